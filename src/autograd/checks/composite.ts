import type { GradcheckCase } from '../gradcheck.js';

export const compositeGradcheckCases: readonly GradcheckCase[] = [];
