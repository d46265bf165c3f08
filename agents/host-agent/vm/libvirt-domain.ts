import type { Accel } from '../../../contracts/index.ts';

/** The libvirt drivers Berth can run its guest on, by the scheme of the connection URI. */
export const LIBVIRT_DRIVERS = ['qemu', 'xen', 'test'] as const;
export type LibvirtDriverName = (typeof LIBVIRT_DRIVERS)[number];

/** `<domain type=…>`: kvm or qemu (TCG) under the qemu driver, xen, or the test driver's. */
export type DomainType = 'kvm' | 'qemu' | 'xen' | 'test';

/** The libvirt driver a URI names (`qemu+ssh://host/system` → qemu), or undefined. */
export function libvirtDriverOf(uri: string): LibvirtDriverName | undefined {
  const scheme = /^([a-z][a-z0-9]*)(\+[a-z0-9]+)?:/i.exec(uri)?.[1]?.toLowerCase();
  return LIBVIRT_DRIVERS.find((name) => name === scheme);
}

/** The domain types `virsh capabilities` offers for full-virtualisation (hvm) guests. */
export function hvmDomainTypes(capabilities: string): Set<string> {
  const offered = new Set<string>();
  for (const [, guest = ''] of capabilities.matchAll(/<guest>([\s\S]*?)<\/guest>/g)) {
    if (!/<os_type>\s*hvm\s*<\/os_type>/.test(guest)) continue;
    for (const [, type = ''] of guest.matchAll(/<domain\s+type=['"]([a-z]+)['"]/g)) {
      offered.add(type);
    }
  }
  return offered;
}

export interface DomainKind {
  readonly type: DomainType;
  readonly accel: Accel;
  /** Why this type and accelerator, as results record it. */
  readonly note: string;
}

/** Whether a guest booted under KVM on this host, and what the test boot found. */
export interface KvmProbe {
  readonly works: boolean;
  readonly note: string;
}

/** A URI whose daemon runs on this host (no host part), where a local KVM test boot speaks for it. */
export const isLocalUri = (uri: string): boolean => /^[a-z][a-z0-9+]*:\/\/\//i.test(uri);

/**
 * The domain type for a URI, checked against what its capabilities offer: kvm where the qemu
 * driver offers it and KVM guests run (`kvm`: a test boot on this host, for a local URI;
 * capabilities offer kvm wherever /dev/kvm exists, even where its guests fail), else qemu
 * (TCG emulation, labelled as such); xen for xen URIs; test for libvirt's test driver, which
 * runs no guest.
 */
export function domainKindFor(uri: string, capabilities: string, kvm?: KvmProbe): DomainKind {
  const driver = libvirtDriverOf(uri);
  const offered = hvmDomainTypes(capabilities);
  const require = (type: DomainType): void => {
    if (!offered.has(type)) {
      throw new Error(
        `the capabilities of ${uri} offer no ${type} domain for hvm guests (offered: ${[...offered].join(', ') || 'none'})`,
      );
    }
  };
  switch (driver) {
    case 'qemu':
      if (offered.has('kvm') && kvm?.works !== false) {
        return { type: 'kvm', accel: 'kvm', note: `the capabilities of ${uri} offer kvm` };
      }
      require('qemu');
      return {
        type: 'qemu',
        accel: 'tcg',
        note: offered.has('kvm')
          ? `the capabilities of ${uri} offer kvm, but ${kvm?.note ?? 'KVM guests fail here'}`
          : `the capabilities of ${uri} offer no kvm domain, only qemu (TCG)`,
      };
    case 'xen':
      require('xen');
      return { type: 'xen', accel: 'xen', note: `Xen HVM guest through ${uri}` };
    case 'test':
      require('test');
      return { type: 'test', accel: 'none', note: "libvirt's test driver runs no guest" };
    case undefined:
      throw new Error(
        `${uri} is not a libvirt URI of the ${LIBVIRT_DRIVERS.join(', ')} drivers Berth can use`,
      );
  }
}

/** Escapes text for XML content and for attribute values in either quote. */
export function xmlEscape(value: string): string {
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/.test(value)) {
    throw new Error(`XML 1.0 cannot hold the control characters in ${JSON.stringify(value)}`);
  }
  return value
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&apos;');
}

export interface DomainSpec {
  /** The domain's name: the instance id. */
  readonly name: string;
  readonly type: DomainType;
  readonly memoryMiB: number;
  readonly vcpus: number;
  readonly kernel: string;
  readonly initrd: string;
  readonly cmdline: string;
  /** The host folder shared read-write with the guest as mount tag `scratch`. */
  readonly scratchDir: string;
  /** The file the guest's first serial port is written to. */
  readonly consoleLog: string;
}

function positiveInteger(value: number, what: string): string {
  if (!Number.isInteger(value) || value < 1) {
    throw new Error(`${what} must be a whole number of at least 1, got ${value}`);
  }
  return String(value);
}

/**
 * The libvirt domain of one instance: direct kernel boot of the guest image, the host's root
 * shared read-only over 9p (mount tag `host`), a scratch folder read-write (`scratch`), the
 * first serial port written to a file, and no balloon (Xen's libxl cannot do without its own,
 * so a xen domain keeps that one). The guest's power-off, reboot or crash ends the domain.
 * Under the qemu driver (kvm and qemu types), QEMU runs as root with nothing relabelled, as
 * the QEMU driver of Berth runs it: libvirt would otherwise run it as its own user (Debian's
 * libvirt-qemu), which cannot write the scratch folder nor read an agent folder only root
 * may enter; and the USB controller the default machine adds is left out (the guest uses
 * none, and its kernel spends a second taking it over under TCG). Every value is XML-escaped.
 */
export function domainXml(spec: DomainSpec): string {
  const text = xmlEscape;
  const qemuDriver = spec.type === 'kvm' || spec.type === 'qemu';
  const cpu =
    spec.type === 'kvm'
      ? ["  <cpu mode='host-passthrough'/>"]
      : spec.type === 'qemu'
        ? ["  <cpu mode='maximum'/>"]
        : [];
  return [
    `<domain type='${text(spec.type)}'>`,
    `  <name>${text(spec.name)}</name>`,
    `  <memory unit='MiB'>${positiveInteger(spec.memoryMiB, 'memory')}</memory>`,
    `  <vcpu>${positiveInteger(spec.vcpus, 'vcpus')}</vcpu>`,
    '  <os>',
    '    <type>hvm</type>',
    `    <kernel>${text(spec.kernel)}</kernel>`,
    `    <initrd>${text(spec.initrd)}</initrd>`,
    `    <cmdline>${text(spec.cmdline)}</cmdline>`,
    '  </os>',
    '  <features>',
    '    <acpi/>',
    '  </features>',
    ...cpu,
    '  <on_poweroff>destroy</on_poweroff>',
    '  <on_reboot>destroy</on_reboot>',
    '  <on_crash>destroy</on_crash>',
    '  <devices>',
    "    <filesystem type='mount' accessmode='squash' multidevs='remap'>",
    "      <source dir='/'/>",
    "      <target dir='host'/>",
    '      <readonly/>',
    '    </filesystem>',
    "    <filesystem type='mount' accessmode='squash'>",
    `      <source dir='${text(spec.scratchDir)}'/>`,
    "      <target dir='scratch'/>",
    '    </filesystem>',
    "    <serial type='file'>",
    `      <source path='${text(spec.consoleLog)}'/>`,
    "      <target port='0'/>",
    '    </serial>',
    ...(qemuDriver ? ["    <controller type='usb' model='none'/>"] : []),
    `    <memballoon model='${spec.type === 'xen' ? 'xen' : 'none'}'/>`,
    '  </devices>',
    ...(qemuDriver
      ? [
          "  <seclabel type='static' model='dac' relabel='no'>",
          '    <label>+0:+0</label>',
          '  </seclabel>',
        ]
      : []),
    '</domain>',
    '',
  ].join('\n');
}
