import type { GradcheckCase } from '../gradcheck.js';

export const shapeGradcheckCases: readonly GradcheckCase[] = [];
