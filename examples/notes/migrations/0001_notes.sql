-- The application's own table, beside pal's: portable SQL, so one list serves every dialect.
CREATE TABLE notes (
    id VARCHAR(36) PRIMARY KEY,
    owner VARCHAR(255) NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX notes_owner ON notes (owner);
