import { describe, expect, it } from 'vitest';
import { quoteVirshArg, shownUri } from '../../agents/host-agent/drivers/virsh.ts';

describe('virsh arguments', () => {
  it('leaves plain arguments as they are and single-quotes the rest', () => {
    expect(quoteVirshArg('/data/bundles/run-1/domain.xml')).toBe('/data/bundles/run-1/domain.xml');
    expect(quoteVirshArg('--validate')).toBe('--validate');
    expect(quoteVirshArg('a b;c')).toBe(`'a b;c'`);
    expect(quoteVirshArg(`it's`)).toBe(`'it'\\''s'`);
    expect(quoteVirshArg('')).toBe(`''`);
  });

  it('refuses control characters, which would end the command line', () => {
    expect(() => quoteVirshArg('a\nb')).toThrow(/control characters/);
    expect(() => quoteVirshArg('a\rb')).toThrow(/control characters/);
  });
});

describe('shownUri', () => {
  it('hides a password and keeps the rest', () => {
    expect(shownUri('qemu+ssh://root:Hunter2@host/system')).toBe('qemu+ssh://root:***@host/system');
    expect(shownUri('qemu+ssh://root@host/system')).toBe('qemu+ssh://root@host/system');
    expect(shownUri('qemu:///system')).toBe('qemu:///system');
  });
});
