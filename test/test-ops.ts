/**
 * Ops that tests record on purpose (deliberately wrong backwards, throwaway registries) carry this
 * prefix; the after-each-file audit in setup.ts exempts them from "every recorded op is declared".
 */
export const TEST_OP_PREFIX = 'test:';
