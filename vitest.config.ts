import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Worker-thread and child-process tests each use every core; running files in parallel only adds noise.
    fileParallelism: false,
  },
});
