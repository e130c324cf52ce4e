import type { GradcheckCase } from '../gradcheck.js';

export const reduceGradcheckCases: readonly GradcheckCase[] = [];
