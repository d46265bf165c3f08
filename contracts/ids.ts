import { Type } from '@sinclair/typebox';
import { SAFE_TOKEN_PATTERN } from './tokens.ts';

export { SAFE_TOKEN_PATTERN, isSafeToken, assertSafeToken } from './tokens.ts';

export const HostId = Type.String({ pattern: SAFE_TOKEN_PATTERN, description: 'host id' });
export const ResultId = Type.String({ pattern: SAFE_TOKEN_PATTERN, description: 'result id' });
export const RunId = Type.String({ pattern: SAFE_TOKEN_PATTERN, description: 'run id' });
export const JobId = Type.String({ pattern: SAFE_TOKEN_PATTERN, description: 'job id' });
