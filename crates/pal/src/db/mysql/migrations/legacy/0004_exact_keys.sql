-- Keys, ids and emails compare byte-exactly, as on PostgreSQL and SQLite: a
-- binary collation without trailing-space padding, so `sess:AbC`, `sess:abc` and
-- `sess:abc ` are three keys, and `A@x.io` and `a@x.io` two emails. MariaDB names
-- it utf8mb4_nopad_bin; on MySQL the statements are run with utf8mb4_0900_bin,
-- its equivalent. Keys may be up to 768 characters (InnoDB's 3072-byte index limit).
ALTER TABLE sessions MODIFY id VARCHAR(768) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NOT NULL;
ALTER TABLE cache_counters MODIFY cache_key VARCHAR(768) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NOT NULL;
ALTER TABLE cache_journal MODIFY cache_key VARCHAR(768) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NOT NULL;
ALTER TABLE users MODIFY id VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NOT NULL;
ALTER TABLE users MODIFY email VARCHAR(320) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NOT NULL;
