import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, fstatSync, fsyncSync, openSync, rmSync, writeSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { WorkloadName } from '../../../contracts/workloads.ts';

/**
 * The kernels the runner times. Each is the same code on every platform; only what is under
 * it (kernel, hypervisor, namespaces) changes. `prepare` makes what the kernel works on and
 * returns the operation to time and how to clean up.
 */
export interface Workload {
  readonly name: WorkloadName;
  readonly description: string;
  /** What one operation does, for the unit of throughput. */
  readonly operation: string;
  prepare(scratchDir: string): Promise<PreparedWorkload>;
}

export interface PreparedWorkload {
  readonly run: () => unknown;
  readonly close: () => Promise<void>;
}

const noClose = (): Promise<void> => Promise.resolve();

const cpuSha256: Workload = {
  name: 'cpu-sha256',
  description: 'SHA-256 of 256 KiB',
  operation: 'hash',
  prepare: () => {
    const data = randomBytes(256 * 1024);
    return Promise.resolve({
      run: () => createHash('sha256').update(data).digest(),
      close: noClose,
    });
  },
};

const cpuGzip: Workload = {
  name: 'cpu-gzip',
  description: 'gzip of 64 KiB of text',
  operation: 'compress',
  prepare: () => {
    const words = ['berth', 'container', 'kernel', 'virtual', 'machine', 'density', 'lifetime'];
    let text = '';
    for (let index = 0; text.length < 64 * 1024; index += 1) {
      text += `${words[(index * 7919) % words.length] ?? ''} ${index} `;
    }
    const data = Buffer.from(text);
    return Promise.resolve({ run: () => gzipSync(data, { level: 6 }), close: noClose });
  },
};

const memoryCopy: Workload = {
  name: 'memory-copy',
  description: 'copy of 16 MiB between buffers',
  operation: 'copy',
  prepare: () => {
    const from = Buffer.alloc(16 * 1024 * 1024, 1);
    const to = Buffer.alloc(16 * 1024 * 1024);
    return Promise.resolve({ run: () => from.copy(to), close: noClose });
  },
};

const syscallFstat: Workload = {
  name: 'syscall-fstat',
  description: '100 fstat system calls',
  operation: '100 calls',
  prepare: (scratchDir) => {
    const path = join(scratchDir, 'fstat');
    const fd = openSync(path, 'w');
    return Promise.resolve({
      run: () => {
        for (let index = 0; index < 100; index += 1) fstatSync(fd);
      },
      close: () => {
        closeSync(fd);
        rmSync(path, { force: true });
        return Promise.resolve();
      },
    });
  },
};

const fileFsync: Workload = {
  name: 'file-fsync',
  description: 'write 4 KiB and fsync',
  operation: 'write+fsync',
  prepare: (scratchDir) => {
    const path = join(scratchDir, 'fsync');
    const fd = openSync(path, 'w');
    const block = randomBytes(4096);
    return Promise.resolve({
      run: () => {
        writeSync(fd, block, 0, block.length, 0);
        fsyncSync(fd);
      },
      close: () => {
        closeSync(fd);
        rmSync(path, { force: true });
        return Promise.resolve();
      },
    });
  },
};

const netLoopback: Workload = {
  name: 'net-loopback',
  description: '1 KiB TCP round trip over loopback',
  operation: 'round trip',
  prepare: async () => {
    const server: Server = createServer((socket) => socket.pipe(socket));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    const port = typeof address === 'object' && address !== null ? address.port : 0;
    const client: Socket = connect(port, '127.0.0.1');
    client.setNoDelay(true);
    await new Promise<void>((resolve) => client.once('connect', resolve));
    const payload = Buffer.alloc(1024, 3);
    return {
      run: () =>
        new Promise<void>((resolve) => {
          let received = 0;
          const onData = (chunk: Buffer): void => {
            received += chunk.length;
            if (received >= payload.length) {
              client.off('data', onData);
              resolve();
            }
          };
          client.on('data', onData);
          client.write(payload);
        }),
      close: async () => {
        client.destroy();
        await new Promise<void>((resolve) =>
          server.close(() => {
            resolve();
          }),
        );
      },
    };
  },
};

const processSpawn: Workload = {
  name: 'process-spawn',
  description: 'spawn and wait for /bin/true',
  operation: 'spawn',
  prepare: () =>
    Promise.resolve({
      run: () => spawnSync('/bin/true', { stdio: 'ignore' }),
      close: noClose,
    }),
};

export const WORKLOADS: readonly Workload[] = [
  cpuSha256,
  cpuGzip,
  memoryCopy,
  syscallFstat,
  fileFsync,
  netLoopback,
  processSpawn,
];
