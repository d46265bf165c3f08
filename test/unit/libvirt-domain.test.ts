import { describe, expect, it } from 'vitest';
import {
  domainKindFor,
  isLocalUri,
  domainXml,
  hvmDomainTypes,
  libvirtDriverOf,
  xmlEscape,
  type DomainSpec,
} from '../../agents/host-agent/vm/libvirt-domain.ts';
import { libvirtVersion } from '../../agents/host-agent/drivers/vm-libvirt.ts';
import { child, childrenNamed, parseXml } from '../../support/xml.ts';

const HOSTILE = `it's "quoted" <tag> & more`;

const spec: DomainSpec = {
  name: `run-1-vm-s1 ${HOSTILE}`,
  type: 'kvm',
  memoryMiB: 320,
  vcpus: 2,
  kernel: `/images/${HOSTILE}/vmlinux`,
  initrd: '/images/guest/initrd.gz',
  cmdline: `console=ttyS0 quiet berth.cmd=/b/cmd.sh a='b' c="d" <&>`,
  scratchDir: `/data/bundles/${HOSTILE}/scratch`,
  consoleLog: `/data/bundles/${HOSTILE}/console.log`,
};

describe('the strict XML reader used to read domains back', () => {
  it.each([
    [`<a b='it's'/>`, 'an unescaped quote inside an attribute'],
    [`<a>x & y</a>`, 'a bare ampersand'],
    [`<a>x < y</a>`, 'a bare less-than'],
    [`<a b='1' b='2'/>`, 'an attribute given twice'],
    [`<a><b></a>`, 'a tag closed by the wrong name'],
    [`<a>&nbsp;</a>`, 'an entity XML does not define'],
  ])('refuses %s (%s)', (xml) => {
    expect(() => parseXml(xml)).toThrow();
  });

  it('decodes the five entities in text and attributes', () => {
    const root = parseXml(`<a x="&quot;&apos;">&lt;&amp;&gt;</a>`);
    expect(root.attributes['x']).toBe(`"'`);
    expect(root.text).toBe('<&>');
  });
});

describe('domainXml', () => {
  const domain = parseXml(domainXml(spec));

  it('names the domain after the instance, with its type, memory and vcpus', () => {
    expect(domain.name).toBe('domain');
    expect(domain.attributes).toEqual({ type: 'kvm' });
    expect(child(domain, 'name')?.text).toBe(spec.name);
    expect(child(domain, 'memory')?.attributes).toEqual({ unit: 'MiB' });
    expect(child(domain, 'memory')?.text).toBe('320');
    expect(child(domain, 'vcpu')?.text).toBe('2');
  });

  it('boots the guest image directly, with the kernel command line as given', () => {
    expect(child(domain, 'os/type')?.text).toBe('hvm');
    expect(child(domain, 'os/kernel')?.text).toBe(spec.kernel);
    expect(child(domain, 'os/initrd')?.text).toBe(spec.initrd);
    expect(child(domain, 'os/cmdline')?.text).toBe(spec.cmdline);
    expect(child(domain, 'on_poweroff')?.text).toBe('destroy');
    expect(child(domain, 'on_reboot')?.text).toBe('destroy');
    expect(child(domain, 'on_crash')?.text).toBe('destroy');
  });

  it('shares the host root read-only as "host" and the scratch folder read-write as "scratch"', () => {
    const devices = child(domain, 'devices');
    expect(devices).toBeDefined();
    const [host, scratch, ...others] = childrenNamed(devices ?? domain, 'filesystem');
    expect(others).toEqual([]);
    expect(host?.attributes['type']).toBe('mount');
    expect(child(host ?? domain, 'source')?.attributes).toEqual({ dir: '/' });
    expect(child(host ?? domain, 'target')?.attributes).toEqual({ dir: 'host' });
    expect(child(host ?? domain, 'readonly')).toBeDefined();
    expect(child(scratch ?? domain, 'source')?.attributes).toEqual({ dir: spec.scratchDir });
    expect(child(scratch ?? domain, 'target')?.attributes).toEqual({ dir: 'scratch' });
    expect(child(scratch ?? domain, 'readonly')).toBeUndefined();
  });

  it('writes the first serial port to the console file', () => {
    const serial = child(domain, 'devices/serial');
    expect(serial?.attributes).toEqual({ type: 'file' });
    expect(child(serial ?? domain, 'source')?.attributes).toEqual({ path: spec.consoleLog });
    expect(child(serial ?? domain, 'target')?.attributes).toEqual({ port: '0' });
  });

  it('passes the host CPU to kvm guests, the most QEMU emulates to TCG ones, and none to others', () => {
    const cpuOf = (type: DomainSpec['type']): string | undefined =>
      child(parseXml(domainXml({ ...spec, type })), 'cpu')?.attributes['mode'];
    expect(cpuOf('kvm')).toBe('host-passthrough');
    expect(cpuOf('qemu')).toBe('maximum');
    expect(cpuOf('xen')).toBeUndefined();
    expect(cpuOf('test')).toBeUndefined();
  });

  it('runs QEMU as root with nothing relabelled, and without a USB controller, under the qemu driver only', () => {
    const of = (type: DomainSpec['type']) => parseXml(domainXml({ ...spec, type }));
    for (const type of ['kvm', 'qemu'] as const) {
      const domain = of(type);
      expect(child(domain, 'seclabel')?.attributes).toEqual({
        type: 'static',
        model: 'dac',
        relabel: 'no',
      });
      expect(child(domain, 'seclabel/label')?.text).toBe('+0:+0');
      expect(child(domain, 'devices/controller')?.attributes).toEqual({
        type: 'usb',
        model: 'none',
      });
    }
    for (const type of ['xen', 'test'] as const) {
      // Xen reads a static label as a FLASK context; the test driver runs nothing.
      expect(child(of(type), 'seclabel')).toBeUndefined();
      expect(child(of(type), 'devices/controller')).toBeUndefined();
    }
  });

  it("has no balloon, except Xen's own, which libxl cannot do without", () => {
    const balloonOf = (type: DomainSpec['type']): string | undefined =>
      child(parseXml(domainXml({ ...spec, type })), 'devices/memballoon')?.attributes['model'];
    expect(balloonOf('kvm')).toBe('none');
    expect(balloonOf('qemu')).toBe('none');
    expect(balloonOf('test')).toBe('none');
    expect(balloonOf('xen')).toBe('xen');
  });

  it('escapes every value, so none can end an attribute or add an element', () => {
    const xml = domainXml(spec);
    expect(xml).not.toContain(HOSTILE);
    expect(xml).toContain(`it&apos;s &quot;quoted&quot; &lt;tag&gt; &amp; more`);
  });

  it('refuses what XML cannot hold and sizes that are not whole numbers', () => {
    expect(() => domainXml({ ...spec, name: 'a\u0001b' })).toThrow(/control characters/);
    expect(() => domainXml({ ...spec, memoryMiB: 0 })).toThrow(/memory must be a whole number/);
    expect(() => domainXml({ ...spec, vcpus: 1.5 })).toThrow(/vcpus must be a whole number/);
    expect(xmlEscape('tab\tand\nnewline')).toBe('tab\tand\nnewline');
  });
});

const guest = (osType: string, ...types: string[]): string =>
  `<guest><os_type>${osType}</os_type><arch name='x86_64'>${types
    .map((type) => `<domain type='${type}'/>`)
    .join('')}</arch></guest>`;
const capabilities = (...guests: string[]): string =>
  `<capabilities><host><cpu><arch>x86_64</arch></cpu></host>${guests.join('')}</capabilities>`;

describe('domainKindFor', () => {
  it('uses kvm where the qemu driver offers it', () => {
    expect(domainKindFor('qemu:///system', capabilities(guest('hvm', 'qemu', 'kvm')))).toEqual({
      type: 'kvm',
      accel: 'kvm',
      note: 'the capabilities of qemu:///system offer kvm',
    });
  });

  it('uses qemu (TCG), naming the failed test boot, where kvm is offered but its guests fail', () => {
    const kind = domainKindFor('qemu:///system', capabilities(guest('hvm', 'qemu', 'kvm')), {
      works: false,
      note: '/dev/kvm present but a test guest failed: kvm_buf_set_msrs',
    });
    expect(kind).toEqual({
      type: 'qemu',
      accel: 'tcg',
      note: 'the capabilities of qemu:///system offer kvm, but /dev/kvm present but a test guest failed: kvm_buf_set_msrs',
    });
    const booted = { works: true, note: 'a test guest booted under KVM' };
    expect(
      domainKindFor('qemu:///system', capabilities(guest('hvm', 'qemu', 'kvm')), booted).accel,
    ).toBe('kvm');
  });

  it('takes a URI with no host part as this host', () => {
    expect(isLocalUri('qemu:///system')).toBe(true);
    expect(isLocalUri('qemu:///system?socket=/run/berth-libvirt-1/libvirt-sock')).toBe(true);
    expect(isLocalUri('qemu+ssh://root@host/system')).toBe(false);
    expect(isLocalUri('qemu+tcp://host/system')).toBe(false);
  });

  it('falls back to qemu (TCG) and says so when kvm is not offered', () => {
    const kind = domainKindFor('qemu+ssh://root@host/system', capabilities(guest('hvm', 'qemu')));
    expect(kind.type).toBe('qemu');
    expect(kind.accel).toBe('tcg');
    expect(kind.note).toContain('no kvm');
  });

  it('counts only full-virtualisation (hvm) guests', () => {
    expect(hvmDomainTypes(capabilities(guest('xen', 'kvm'), guest('hvm', 'qemu')))).toEqual(
      new Set(['qemu']),
    );
  });

  it('uses xen for xen URIs and test for the test driver', () => {
    expect(domainKindFor('xen:///system', capabilities(guest('hvm', 'xen'))).accel).toBe('xen');
    const test = domainKindFor('test:///default', capabilities(guest('hvm', 'test')));
    expect(test).toMatchObject({ type: 'test', accel: 'none' });
  });

  it('refuses a type the capabilities do not offer, and URIs of other drivers', () => {
    expect(() => domainKindFor('xen:///system', capabilities(guest('hvm', 'kvm')))).toThrow(
      'the capabilities of xen:///system offer no xen domain for hvm guests (offered: kvm)',
    );
    expect(() => domainKindFor('qemu:///system', capabilities())).toThrow(/offered: none/);
    expect(() => domainKindFor('lxc:///', capabilities(guest('hvm', 'kvm')))).toThrow(
      /not a libvirt URI of the qemu, xen, test drivers/,
    );
  });

  it('reads the driver from the scheme, transport or not', () => {
    expect(libvirtDriverOf('qemu:///session')).toBe('qemu');
    expect(libvirtDriverOf('QEMU+tcp://host/system')).toBe('qemu');
    expect(libvirtDriverOf('test:///default')).toBe('test');
    expect(libvirtDriverOf('vbox:///session')).toBeUndefined();
  });
});

describe('libvirtVersion', () => {
  it("gives libvirt's version and the hypervisor's", () => {
    const output = [
      'Compiled against library: libvirt 9.0.0',
      'Using library: libvirt 9.0.0',
      'Using API: QEMU 9.0.0',
      'Running hypervisor: QEMU 7.2.0',
    ].join('\n');
    expect(libvirtVersion(output)).toBe('9.0.0 (QEMU 7.2.0)');
    expect(libvirtVersion('Using library: libvirt 8.0.0\n')).toBe('8.0.0');
  });
});
