/** What a driver is selected by: its platform and its runtime. */
export interface DriverIdentity {
  readonly platform: string;
  readonly runtime: string;
}

/** A driver's full name, `platform:runtime` (`vm:libvirt`). */
export function driverName(driver: DriverIdentity): string {
  return `${driver.platform}:${driver.runtime}`;
}

/** Every name that selects something: each platform, then each driver's full name. */
export function selectableNames(drivers: readonly DriverIdentity[]): string[] {
  return [...new Set(drivers.map((driver) => driver.platform)), ...drivers.map(driverName)];
}

/**
 * The drivers the names pick, in the registry's order and each once: a platform name picks
 * every driver of that platform (`vm`: QEMU and libvirt), `platform:runtime` picks one. No
 * names pick every driver. Names that pick nothing are returned as `unknown`.
 */
export function matchDrivers<T extends DriverIdentity>(
  drivers: readonly T[],
  names: readonly string[],
): { selected: T[]; unknown: string[] } {
  const picks = (driver: T, name: string): boolean =>
    name === driver.platform || name === driverName(driver);
  return {
    selected:
      names.length === 0
        ? [...drivers]
        : drivers.filter((driver) => names.some((name) => picks(driver, name))),
    unknown: names.filter((name) => !drivers.some((driver) => picks(driver, name))),
  };
}

/** The message for names that pick nothing, listing every name that does. */
export function unknownPlatformsMessage(
  unknown: readonly string[],
  drivers: readonly DriverIdentity[],
): string {
  return `unknown ${unknown.join(', ')} (known: ${selectableNames(drivers).join(', ')})`;
}
