#!/usr/bin/env node
// The `berth` command: runs the TypeScript entry point through tsx's loader.
import { register } from 'tsx/esm/api';

register();
await import('../cli/main.ts');
