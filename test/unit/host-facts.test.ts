import { describe, expect, it } from 'vitest';
import { parseCpuInfo, parseOsRelease } from '../../agents/host-agent/host-facts.ts';

/** Two sockets of two cores, each core with two hardware threads. */
const TWO_SOCKETS = [0, 1, 2, 3, 4, 5, 6, 7]
  .map((cpu) =>
    [
      `processor\t: ${cpu}`,
      'model name\t: Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz',
      `physical id\t: ${Math.floor(cpu / 4)}`,
      `core id\t\t: ${Math.floor(cpu / 2) % 2}`,
      'flags\t\t: fpu vmx sse4_2 avx2',
      '',
    ].join('\n'),
  )
  .join('\n');

describe('host facts', () => {
  it('reads the model, flags, logical CPUs and physical cores of /proc/cpuinfo', () => {
    expect(parseCpuInfo(TWO_SOCKETS)).toEqual({
      model: 'Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz',
      flags: ['fpu', 'vmx', 'sse4_2', 'avx2'],
      threads: 8,
      physicalCores: 4,
    });
  });

  it('counts logical CPUs as cores where the kernel gives no core ids', () => {
    const text = 'processor\t: 0\nmodel name\t: ARMv8\n\nprocessor\t: 1\nmodel name\t: ARMv8\n';
    expect(parseCpuInfo(text)).toMatchObject({ threads: 2, physicalCores: 2, flags: [] });
  });

  it('reads the distribution and its version of /etc/os-release, quoted or not', () => {
    const text =
      'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\n';
    expect(parseOsRelease(text)).toEqual({ distro: 'Debian GNU/Linux', release: '12' });
    expect(parseOsRelease("NAME=Alpine\nVERSION='3.20'\n")).toEqual({
      distro: 'Alpine',
      release: '3.20',
    });
    expect(parseOsRelease('')).toEqual({ distro: '', release: '' });
  });
});
