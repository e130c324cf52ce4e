import type { GradcheckCase } from '../gradcheck.js';

export const convGradcheckCases: readonly GradcheckCase[] = [];
