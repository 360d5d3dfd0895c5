/** The planner refuses: an order rule contradicted by the groups, or a forbidden combination. */
export class PlanError extends Error {
  constructor(
    message: string,
    readonly constraint: string,
  ) {
    super(message);
    this.name = 'PlanError';
  }
}
