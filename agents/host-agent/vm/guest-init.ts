/**
 * The modules the guest needs for virtio over MMIO (QEMU's microvm), over PCI (the machines
 * libvirt defines) and 9p (Debian builds them as modules). The image builder adds what they
 * depend on and writes them to /modules/order, dependencies first.
 */
export const GUEST_MODULES = ['virtio_mmio', 'virtio_pci', '9pnet_virtio', '9p'];

/**
 * The guest's /init (busybox sh). It mounts the host's root read-only over 9p at /host and a
 * scratch folder of the host's disk read-write, brings up loopback, then runs the command
 * file named on the kernel command line (berth.cmd=…, a path on the host) and powers off.
 * The command file decides the platform: `chroot /host …` for a plain VM, `unshare … chroot
 * /host …` for a container inside the VM.
 */
export const GUEST_INIT = `#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for module in $(cat /modules/order); do insmod /modules/$module.ko; done
ip link set lo up
arg() { sed -n "s/.*$1=\\\\([^ ]*\\\\).*/\\\\1/p" /proc/cmdline; }
mkdir -p /host
mount -t 9p -o trans=virtio,version=9p2000.L,ro,cache=loose host /host
mount -t proc proc /host/proc
mount -t devtmpfs dev /host/dev
scratch=$(arg berth.scratch)
mount -t 9p -o trans=virtio,version=9p2000.L scratch "/host$scratch"
sh "/host$(arg berth.cmd)"
poweroff -f
`;
