/** The server on which each test run creates and drops its own databases. */
export const POSTGRES_ADMIN_URL = process.env.SESAME_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
