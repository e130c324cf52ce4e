import type { GradcheckCase } from '../gradcheck.js';

export const matmulGradcheckCases: readonly GradcheckCase[] = [];
