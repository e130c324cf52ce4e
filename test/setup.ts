import { setupCore } from '../src/core-setup.js';

// Tests import deep modules directly, not only the entry points that wire the core.
setupCore();
