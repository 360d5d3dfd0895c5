// A fault of the gateway's own configuration, as opposed to a fault of the commit it is asked to
// apply: "a fault of the gateway's own configuration is an error of the gateway, never a verdict
// on the commit" (DESIGN.md, safety rule 9). Thrown wherever such a fault is found (a variables
// or credentials file that is missing or does not parse, an interface that is not installed), so
// the agent records a configuration error, changes nothing, and tries the commit again later.

export class GatewayConfigError extends Error {
  override name = 'GatewayConfigError';
  constructor(
    message: string,
    /** The setting to fix, as the configuration names it (`gateway.variablesFile`, `interfaces.dirs`). */
    readonly setting: string,
  ) {
    super(message);
  }
}
