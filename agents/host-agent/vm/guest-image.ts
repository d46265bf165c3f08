import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmod,
  copyFile,
  mkdir,
  open,
  readFile,
  readdir,
  rename,
  rm,
  stat,
  writeFile,
} from 'node:fs/promises';
import { basename, join } from 'node:path';
import { promisify } from 'node:util';
import { GUEST_INIT, GUEST_MODULES } from './guest-init.ts';

const execProgram = promisify(execFile);

export interface GuestImage {
  /** Uncompressed ELF kernel, as QEMU's microvm machine needs it. */
  readonly kernel: string;
  readonly initrd: string;
  readonly kernelVersion: string;
}

export type ImageStep = (done: number, total: number, what: string) => void;

const BUSYBOX = '/bin/busybox';
const XZ_MAGIC = Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]);

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/** The kernel package Debian's linux-image-amd64 currently depends on. */
async function kernelPackage(): Promise<string> {
  const { stdout } = await execProgram('apt-cache', ['depends', 'linux-image-amd64']);
  const name = /Depends: (linux-image-\S+)/.exec(stdout)?.[1];
  if (name === undefined) {
    throw new Error('apt knows no linux-image-amd64 (run apt-get update)');
  }
  return name;
}

/** The offset of the xz stream inside a bzImage. */
async function xzOffset(vmlinuz: string): Promise<number> {
  const handle = await open(vmlinuz, 'r');
  try {
    const { size } = await handle.stat();
    const data = Buffer.alloc(size);
    await handle.read(data, 0, size, 0);
    const offset = data.indexOf(XZ_MAGIC);
    if (offset < 0) throw new Error(`${vmlinuz} holds no xz-compressed kernel`);
    return offset;
  } finally {
    await handle.close();
  }
}

/** The names a kernel module depends on, from its .modinfo section. */
async function moduleDepends(path: string): Promise<string[]> {
  const text = (await readFile(path)).toString('latin1');
  const match = /depends=([^\0]*)/.exec(text);
  return (match?.[1] ?? '').split(',').filter((name) => name !== '');
}

/** The modules and everything they need, dependencies first. */
async function loadOrder(
  wanted: readonly string[],
  available: ReadonlyMap<string, string>,
  pkg: string,
): Promise<string[]> {
  const order: string[] = [];
  const visit = async (name: string, path: readonly string[]): Promise<void> => {
    if (order.includes(name)) return;
    if (path.includes(name))
      throw new Error(`modules depend on each other: ${[...path, name].join(' -> ')}`);
    const file = available.get(name);
    if (file === undefined) throw new Error(`module ${name}.ko is not in ${pkg}`);
    for (const dependency of await moduleDepends(file)) await visit(dependency, [...path, name]);
    order.push(name);
  };
  for (const name of wanted) await visit(name, []);
  return order;
}

/** The builds under way in this process, by cache folder: every VM driver shares one. */
const builds = new Map<string, Promise<GuestImage>>();

/**
 * Builds (once) the guest the vm platforms boot: the distribution's own kernel, unpacked to
 * the ELF image QEMU's microvm loads, and a small initramfs of busybox, the virtio/9p modules
 * of that kernel and the Berth init. Cached under cacheDir by kernel version and init; the
 * drivers of one process that ask at once share one build (its steps are shown to the first).
 */
export function buildGuestImage(
  cacheDir: string,
  step: ImageStep = () => undefined,
): Promise<GuestImage> {
  let build = builds.get(cacheDir);
  if (build === undefined) {
    build = buildImage(cacheDir, step);
    builds.set(cacheDir, build);
    build.catch(() => builds.delete(cacheDir));
  }
  return build;
}

async function buildImage(cacheDir: string, step: ImageStep): Promise<GuestImage> {
  const total = 5;
  step(0, total, 'finding the kernel package');
  const pkg = await kernelPackage();
  const kernelVersion = pkg.replace(/^linux-image-/, '');
  const initHash = createHash('sha256')
    .update(GUEST_INIT)
    .update(GUEST_MODULES.join())
    .digest('hex')
    .slice(0, 12);
  const imageDir = join(cacheDir, `guest-${kernelVersion}-${initHash}`);
  const image = {
    kernel: join(imageDir, 'vmlinux'),
    initrd: join(imageDir, 'initrd.gz'),
    kernelVersion,
  };
  if ((await exists(image.kernel)) && (await exists(image.initrd))) {
    step(total, total, 'cached');
    return image;
  }
  if (!(await exists(BUSYBOX)))
    throw new Error('busybox is not installed (apt-get install busybox-static)');

  const work = join(cacheDir, `build-${process.pid}`);
  await rm(work, { recursive: true, force: true });
  await mkdir(work, { recursive: true });
  try {
    step(1, total, `downloading ${pkg}`);
    await execProgram('apt-get', ['download', pkg], { cwd: work });
    const deb = (await readdir(work)).find((name) => name.endsWith('.deb'));
    if (deb === undefined) throw new Error(`apt-get download ${pkg} gave no .deb`);

    step(2, total, 'unpacking the kernel');
    const root = join(work, 'root');
    await execProgram('dpkg', ['-x', join(work, deb), root]);
    const vmlinuz = join(root, 'boot', `vmlinuz-${kernelVersion}`);
    const offset = await xzOffset(vmlinuz);
    await mkdir(imageDir, { recursive: true });
    await execProgram('sh', [
      '-c',
      'tail -c +"$1" "$2" | xz -dc --single-stream > "$3"',
      'sh',
      String(offset + 1),
      vmlinuz,
      `${image.kernel}.tmp`,
    ]);

    step(3, total, 'writing the initramfs');
    const initramfs = join(work, 'initramfs');
    for (const dir of ['bin', 'proc', 'sys', 'dev', 'modules', 'host', 'tmp']) {
      await mkdir(join(initramfs, dir), { recursive: true });
    }
    await copyFile(BUSYBOX, join(initramfs, 'bin', 'busybox'));
    await chmod(join(initramfs, 'bin', 'busybox'), 0o755);
    const moduleRoot = join(root, 'lib', 'modules', kernelVersion, 'kernel');
    const { stdout } = await execProgram('find', [moduleRoot, '-name', '*.ko']);
    const available = new Map(
      stdout
        .split('\n')
        .filter((line) => line !== '')
        .map((path) => [basename(path, '.ko'), path]),
    );
    const order = await loadOrder(GUEST_MODULES, available, pkg);
    for (const name of order) {
      await copyFile(available.get(name) ?? '', join(initramfs, 'modules', `${name}.ko`));
    }
    await writeFile(join(initramfs, 'modules', 'order'), `${order.join('\n')}\n`);
    await writeFile(join(initramfs, 'init'), GUEST_INIT, { mode: 0o755 });

    step(4, total, 'packing the initramfs');
    await execProgram(
      'sh',
      ['-c', 'find . | cpio -o -H newc --quiet | gzip -1 > "$1"', 'sh', `${image.initrd}.tmp`],
      {
        cwd: initramfs,
      },
    );
    await rename(`${image.kernel}.tmp`, image.kernel);
    await rename(`${image.initrd}.tmp`, image.initrd);
    step(total, total, 'done');
    return image;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
