import type { GradcheckCase } from '../gradcheck.js';

export const elementwiseGradcheckCases: readonly GradcheckCase[] = [];
