/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': 'ts-jest' },
  setupFiles: ['<rootDir>/test/setup-env.ts'],
  // Builds AWS's Lambda runtime client on first use when the run includes test/lambda-runtime.
  globalSetup: '<rootDir>/test/lambda-runtime/global-setup.ts',
  testTimeout: 30000,
};
