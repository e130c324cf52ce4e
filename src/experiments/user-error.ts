/** A mistake the user can fix (bad flag combination, missing file, …): reported in one line, exit code 2. */
export class UserError extends Error {}
