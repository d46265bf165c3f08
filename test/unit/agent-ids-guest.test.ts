import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { isSafeToken } from '../../contracts/index.ts';
import { guestCommand } from '../../agents/host-agent/drivers/vm-qemu.ts';
import { resultId } from '../../agents/host-agent/ids.ts';

describe('result ids', () => {
  it('are the same for the same result, so a resend is recognised', () => {
    expect(resultId('run-1', 'vm', 'libvirt', 'cpu-sha256', '')).toBe(
      resultId('run-1', 'vm', 'libvirt', 'cpu-sha256', ''),
    );
  });

  it('differ by platform, runtime, workload and container, and stay safe tokens', () => {
    const ids = [
      resultId('run-1', 'vm', 'qemu-microvm', 'cpu-sha256', ''),
      resultId('run-1', 'vm', 'libvirt', 'cpu-sha256', ''),
      resultId('run-1', 'vm', 'libvirt', 'cpu-gzip', ''),
      resultId('run-1', 'container-in-vm', 'qemu-microvm', 'cpu-gzip', 'c2'),
      resultId('run-2', 'container-in-vm', 'qemu-microvm', 'cpu-gzip', 'c2'),
    ];
    expect(new Set(ids).size).toBe(ids.length);
    const longest = resultId('r'.repeat(40), 'p'.repeat(64), 'q'.repeat(64), 'w'.repeat(64));
    expect(isSafeToken(longest)).toBe(true);
  });
});

describe('the guest command', () => {
  const argv = ['/usr/bin/node', "/data/it's here/runner.mjs", '--workloads', ''];

  it('runs the runner itself in a plain VM', () => {
    expect(guestCommand('vm', argv, 1)).toBe(
      `exec chroot /host '/usr/bin/node' '/data/it'\\''s here/runner.mjs' '--workloads' ''\n`,
    );
  });

  it('starts K containers, each naming itself, and waits for them all', () => {
    const script = guestCommand('container-in-vm', argv, 3);
    const lines = script.trim().split('\n');
    expect(lines).toHaveLength(4);
    lines.slice(0, 3).forEach((line, index) => {
      expect(line).toMatch(/^unshare -m -p -f -n -u -i sh -c '.*' < \/dev\/console &$/);
      expect(line).toContain(`'\\''--instance'\\'' '\\''c${index + 1}'\\''`);
    });
    expect(lines[3]).toBe('wait');
    // The shell parses it, quotes inside quotes included.
    execFileSync('sh', ['-n', '-c', script]);
  });

  it('leaves a single container unnamed', () => {
    expect(guestCommand('container-in-vm', argv, 1)).not.toContain('--instance');
  });
});
