// The interface applier's defaults, in a module of their own: the CLI's help shows them without
// loading the applier.

export const DEFAULT_INTERFACE_DIRS = [
  '/usr/share/mender-orchestrator/interfaces/v1',
  '/usr/share/mender-update-orchestrator/update-interfaces/v1',
  '/usr/share/mender/modules/v3',
];

export const DEFAULT_CACHE_BYTES = 1024 * 1024 * 1024;
export const DEFAULT_REBOOT_COMMAND = ['systemctl', 'reboot'];
