-- The reference service's accounts (MySQL and MariaDB). Ids and emails compare
-- byte-exactly, `A@x.io` and `a@x.io` being two addresses: MariaDB's
-- utf8mb4_nopad_bin, for which pal substitutes utf8mb4_0900_bin on MySQL. Where
-- an older release of pal created this table already, it is left as it is.
CREATE TABLE IF NOT EXISTS users (
    id VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NOT NULL PRIMARY KEY,
    email VARCHAR(320) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NOT NULL,
    verified BOOLEAN NOT NULL DEFAULT FALSE,
    created_at DATETIME(6) NOT NULL,
    updated_at DATETIME(6) NOT NULL,
    UNIQUE KEY users_email (email)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;
