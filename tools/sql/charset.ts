// The schema's character set and collation: the one place the toolkit states them.
//
// Every table pins them (the .sql files spell them out, as they must run unchanged through the
// mysql client), every string parameter, return value and variable of a routine declares them,
// and the toolkit's own sessions use them. So nothing depends on the database's default (a DBA's
// CREATE DATABASE gets the server's: utf8mb4_general_ci on MariaDB, utf8mb4_0900_ai_ci on MySQL)
// or on the caller's session (see tools/migrate/README.md, "Character sets and collations").
export const SCHEMA_CHARSET = 'utf8mb4';
export const SCHEMA_COLLATION = 'utf8mb4_unicode_ci';

/** For CREATE TABLE statements written in TypeScript (the toolkit's bookkeeping tables). */
export const TABLE_OPTIONS = `ENGINE=InnoDB DEFAULT CHARSET=${SCHEMA_CHARSET} COLLATE=${SCHEMA_COLLATION}`;

/** For a database the toolkit creates itself (migrate up, users apply on a missing database). */
export const DATABASE_OPTIONS = `CHARACTER SET ${SCHEMA_CHARSET} COLLATE ${SCHEMA_COLLATION}`;
