use super::*;
use crate::error::ConfigErrors;

fn settings(vars: &[(&str, &str)]) -> Result<Settings, ConfigErrors> {
    Settings::from_vars(vars.iter().copied())
}

fn error_text(vars: &[(&str, &str)]) -> String {
    settings(vars).expect_err("configuration should be rejected").to_string()
}

const EMBEDDED: &[(&str, &str)] = &[("CACHE_PROVIDER", "memory"), ("DB_PROVIDER", "sqlite")];
const PLAINTEXT: (&str, &str) = ("CACHE_INSECURE_NO_ENCRYPTION", "true");
const KEYS: [(&str, &str); 2] = [
    ("CACHE_KEY_SECRET", "aOE41jfGy5wFLpZc4UM0jrDIRiHIQNDnKv9K6rEdfNc="),
    (
        "CACHE_ENCRYPTION_KEYS",
        "k2:dT3jvNcsMaepLZm2f4x22T60WwbwzsXZv9Mn3bm/3cg=,k1:lGG2IZsafEFdou6ycAsE+/Q3awBmrucHKea7Nj8vR0g=",
    ),
];
/// What a cache outside the process needs: the keys, or in a build without the
/// `sealing` feature, the opt-out.
const SEALED: &[(&str, &str)] = if cfg!(feature = "sealing") { &KEYS } else { &[PLAINTEXT] };

#[test]
fn embedded_defaults_need_nothing_else() {
    let s = settings(EMBEDDED).unwrap();
    assert_eq!(s.cache_settings().unwrap().provider.name, "memory");
    assert_eq!(s.db_settings().unwrap().provider.name, "sqlite");
    assert_eq!(s.db_settings().unwrap().url.expose(), "sqlite://pal.db");
    assert!(s.db_settings().unwrap().auto_migrate, "the embedded database migrates itself by default");
    assert!(
        s.cache_settings().unwrap().config.target().starts_with("in-process, max 100000 entries, "),
        "{}",
        s.cache_settings().unwrap().config.target()
    );
    assert_eq!(s.db_settings().unwrap().pool.max, 10);
    assert!(s.warnings.is_empty());
}

#[test]
fn original_design_defaults() {
    let s =
        settings(&[("REDIS_URL", "redis://127.0.0.1:6379"), ("DATABASE_URL", "postgres://127.0.0.1/app"), PLAINTEXT])
            .unwrap();
    assert_eq!(s.cache_settings().unwrap().provider.name, "redis");
    assert_eq!(s.db_settings().unwrap().provider.name, "postgresql");
    assert_eq!(s.cache_settings().unwrap().config.target(), "redis://127.0.0.1:6379");
    assert!(!s.cache_settings().unwrap().config.needs_database(), "plain Redis needs no database");
    assert!(!s.db_settings().unwrap().auto_migrate);
    let hybrid = settings(&[
        ("CACHE_PROVIDER", "redis-hybrid"),
        ("REDIS_URL", "redis://127.0.0.1:6379"),
        ("DATABASE_URL", "postgres://127.0.0.1/app"),
        PLAINTEXT,
    ])
    .unwrap();
    assert!(hybrid.cache_settings().unwrap().config.needs_database(), "the fallback is on by default");
}

#[test]
fn every_default_in_the_table_parses() {
    // Setting every variable to its own default must be accepted.
    let table = variables();
    let mut vars: Vec<(&str, &str)> = table.iter().filter_map(|v| v.default.map(|d| (v.name, d))).collect();
    vars.extend([("REDIS_URL", "redis://127.0.0.1"), ("DATABASE_URL", "postgres://h/db")]);
    vars.extend(SEALED);
    settings(&vars).unwrap();
}

#[test]
fn unknown_provider_names_the_variable_and_every_accepted_value() {
    let text = error_text(&[("CACHE_PROVIDER", "bogus"), ("DB_PROVIDER", "sqlite")]);
    assert!(text.contains("CACHE_PROVIDER=\"bogus\""), "{text}");
    for name in ["redis", "redis-hybrid", "memory", "keydb", "memcached"] {
        assert!(text.contains(name), "{text} should list {name}");
    }
    let text = error_text(&[("CACHE_PROVIDER", "memory"), ("DB_PROVIDER", "oracle")]);
    assert!(
        text.contains("DB_PROVIDER=\"oracle\"") && text.contains("postgresql, mysql, cockroachdb, sqlite"),
        "{text}"
    );
}

#[test]
fn provider_names_are_case_insensitive() {
    let s = settings(&[("CACHE_PROVIDER", "Memory"), ("DB_PROVIDER", " SQLite ")]).unwrap();
    assert_eq!(s.cache_settings().unwrap().provider.name, "memory");
}

#[test]
fn missing_urls_name_the_variable() {
    let text = error_text(&[("DB_PROVIDER", "sqlite")]);
    assert!(text.contains("REDIS_URL must be set"), "{text}");
    let text = error_text(&[("CACHE_PROVIDER", "memory"), ("DB_PROVIDER", "mysql")]);
    assert!(text.contains("DATABASE_URL must be set for DB_PROVIDER=mysql"), "{text}");
    let text = error_text(&[("CACHE_PROVIDER", "memcached"), ("DB_PROVIDER", "sqlite")]);
    assert!(text.contains("MEMCACHED_SERVERS must be set"), "{text}");
    let text = error_text(&[("CACHE_PROVIDER", "keydb"), ("DB_PROVIDER", "sqlite")]);
    assert!(text.contains("KEYDB_URL must be set"), "{text}");
}

#[test]
fn all_errors_are_reported_at_once() {
    let err = settings(&[("CACHE_PROVIDER", "nope"), ("DB_PROVIDER", "nope"), ("DB_POOL_MAX", "many")]).unwrap_err();
    assert_eq!(err.errors.len(), 3, "{err}");
    assert!(err.to_string().starts_with("3 configuration errors:"));
}

#[test]
fn contradictory_flags_are_rejected() {
    let text = error_text(&[
        ("CACHE_PROVIDER", "redis"),
        ("DB_PROVIDER", "sqlite"),
        ("REDIS_CLUSTER_ENABLED", "true"),
        ("REDIS_SENTINEL_ENABLED", "true"),
        ("REDIS_CLUSTER_NODES", "127.0.0.1:7000"),
    ]);
    assert!(text.contains("REDIS_CLUSTER_ENABLED=true and REDIS_SENTINEL_ENABLED=true contradict"), "{text}");
    let text = error_text(&[EMBEDDED, &[("DB_POOL_MIN", "5"), ("DB_POOL_MAX", "2")]].concat());
    assert!(text.contains("DB_POOL_MIN=5 is larger than DB_POOL_MAX=2"), "{text}");
    let text = error_text(&[EMBEDDED, &[("DB_REPLICA_URL", "sqlite://replica.db")]].concat());
    assert!(text.contains("DB_REPLICA_URL is set but DB_PROVIDER=sqlite has no replicas"), "{text}");
}

#[test]
fn malformed_urls_are_reported_without_their_password() {
    let text = error_text(&[("REDIS_URL", "redis://user:s3cret@:notaport"), ("DB_PROVIDER", "sqlite")]);
    assert!(text.contains("REDIS_URL is not a valid URL (redis://user:***@:notaport)"), "{text}");
    assert!(!text.contains("s3cret"), "{text}");
    let text = error_text(&[
        ("CACHE_PROVIDER", "memory"),
        ("DB_PROVIDER", "postgresql"),
        ("DATABASE_URL", "mysql://u:pw@h/db"),
    ]);
    assert!(text.contains("scheme \"mysql\" is not accepted") && text.contains("postgres, postgresql"), "{text}");
    assert!(!text.contains(":pw@"), "{text}");
}

#[test]
fn secrets_never_appear_in_debug_output() {
    let urls = [
        ("REDIS_URL", "redis://user:s3cret@127.0.0.1:6379"),
        ("DATABASE_URL", "postgres://app:hunter2@db/app?password=alsosecret"),
        ("REDIS_SENTINEL_PASSWORD", "sentinelpw"),
    ];
    let s = settings(&[&urls[..], SEALED].concat()).unwrap();
    let debug = format!("{s:?}");
    for secret in ["s3cret", "hunter2", "alsosecret", "sentinelpw", &KEYS[0].1[..12], &KEYS[1].1[3..15]] {
        assert!(!debug.contains(secret), "{secret} leaked: {debug}");
    }
    assert!(debug.contains("redis://user:***@127.0.0.1:6379"), "{debug}");
}

#[test]
fn host_lists_are_validated() {
    let base = [("CACHE_PROVIDER", "redis"), ("DB_PROVIDER", "sqlite"), ("REDIS_CLUSTER_ENABLED", "true"), PLAINTEXT];
    let text = error_text(&base);
    assert!(text.contains("REDIS_CLUSTER_NODES must be set when REDIS_CLUSTER_ENABLED=true"), "{text}");
    let text = error_text(&[&base[..], &[("REDIS_CLUSTER_NODES", "127.0.0.1:7000,,host:port")]].concat());
    assert!(text.contains("empty entry") && text.contains("port \"port\" is not a number"), "{text}");
    let s = settings(&[&base[..], &[("REDIS_CLUSTER_NODES", "127.0.0.1:7000, [::1]:7001,redis-3")]].concat()).unwrap();
    assert_eq!(s.cache_settings().unwrap().config.target(), "cluster via 127.0.0.1:7000,[::1]:7001,redis-3:6379");
}

#[test]
fn sentinel_settings() {
    let s = settings(&[
        ("DB_PROVIDER", "sqlite"),
        ("REDIS_SENTINEL_ENABLED", "on"),
        ("REDIS_SENTINEL_NODES", "10.0.0.1,10.0.0.2:26380"),
        PLAINTEXT,
    ])
    .unwrap();
    assert_eq!(s.cache_settings().unwrap().config.target(), "sentinel mymaster via 10.0.0.1:26379,10.0.0.2:26380");
}

#[test]
fn keydb_from_host_and_port() {
    let s = settings(&[
        ("CACHE_PROVIDER", "keydb"),
        ("DB_PROVIDER", "sqlite"),
        ("KEYDB_HOST", "kdb"),
        ("KEYDB_PORT", "6380"),
        PLAINTEXT,
    ])
    .unwrap();
    assert_eq!(s.cache_settings().unwrap().config.target(), "redis://kdb:6380");
    let text = error_text(&[
        ("CACHE_PROVIDER", "keydb"),
        ("DB_PROVIDER", "sqlite"),
        ("KEYDB_HOST", "kdb"),
        ("KEYDB_URL", "redis://kdb"),
    ]);
    assert!(text.contains("KEYDB_URL and KEYDB_HOST are both set"), "{text}");
}

#[test]
fn bad_booleans_and_numbers() {
    let text =
        error_text(&[EMBEDDED, &[("CACHE_FALLBACK_ENABLED", "maybe"), ("REDIS_COMMAND_TIMEOUT_MS", "-5")]].concat());
    assert!(text.contains("CACHE_FALLBACK_ENABLED=\"maybe\" is not valid; accepted values: true, false"), "{text}");
    assert!(text.contains("REDIS_COMMAND_TIMEOUT_MS=\"-5\""), "{text}");
}

#[test]
fn empty_values_mean_default() {
    let s = settings(&[EMBEDDED, &[("DB_POOL_MAX", ""), ("REDIS_URL", "  ")]].concat()).unwrap();
    assert_eq!(s.db_settings().unwrap().pool.max, 10);
}

#[test]
fn misspelled_variables_are_warned_about_and_the_applications_own_are_not() {
    let typos = [("CACHE_PROVDER", "redis"), ("DB_POOLMAX", "3"), ("CAHCE_PROVIDER", "memory")];
    let own = [("HOME", "/root"), ("DB_NAME", "notes"), ("REDIS_HOST", "cache"), ("CACHE_DIR", "/tmp"), ("DB_X", "1")];
    let s = settings(&[EMBEDDED, &typos, &own].concat()).unwrap();
    assert_eq!(s.warnings.len(), 3, "{:?}", s.warnings);
    assert!(s.warnings.iter().any(|w| w.contains("CACHE_PROVDER") && w.contains("did you mean CACHE_PROVIDER?")));
    assert!(s.warnings.iter().any(|w| w.contains("CAHCE_PROVIDER")), "a typo in the prefix is a typo too");
}

#[test]
fn sealing_is_required_for_caches_outside_the_process() {
    let outside: Vec<&str> =
        registry::CACHES.iter().map(|e| e.provider).filter(|p| p.capabilities.leaves_process).map(|p| p.name).collect();
    assert_eq!(outside, ["redis", "redis-hybrid", "keydb", "memcached"], "what the providers declare");
    for provider in outside {
        let text = error_text(&[
            ("CACHE_PROVIDER", provider),
            ("DB_PROVIDER", "sqlite"),
            ("REDIS_URL", "redis://h"),
            ("KEYDB_URL", "redis://h"),
            ("MEMCACHED_SERVERS", "h:11211"),
        ]);
        #[cfg(feature = "sealing")]
        {
            assert!(text.contains("CACHE_KEY_SECRET and CACHE_ENCRYPTION_KEYS must be set"), "{provider}: {text}");
            assert!(text.contains("pal keygen") && text.contains("CACHE_INSECURE_NO_ENCRYPTION=true"), "{text}");
        }
        #[cfg(not(feature = "sealing"))]
        assert!(
            text.contains("CACHE_INSECURE_NO_ENCRYPTION must be set to true")
                && text.contains("without the `sealing` feature"),
            "{provider}: {text}"
        );
    }
    let s = settings(EMBEDDED).unwrap();
    assert!(s.cache_settings().unwrap().sealing.is_none(), "the in-process cache may run without sealing");
}

#[cfg(feature = "sealing")]
#[test]
fn sealing_keys_are_decoded_in_order() {
    let s = settings(&[EMBEDDED, &KEYS].concat()).unwrap();
    let keys = s.cache_settings().unwrap().sealing.clone().unwrap();
    let ids: Vec<&str> = keys.encryption_keys.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(ids, ["k2", "k1"], "the first key seals");
    assert!(keys.key_secret.len() >= 32);
}

#[test]
fn plaintext_opt_out_is_warned_about_and_cannot_be_mixed_with_keys() {
    let s = settings(&[("CACHE_PROVIDER", "redis"), ("DB_PROVIDER", "sqlite"), ("REDIS_URL", "redis://h"), PLAINTEXT])
        .unwrap();
    assert!(s.warnings.iter().any(|w| w.contains("plaintext")), "{:?}", s.warnings);
    let text = error_text(
        &[&[("CACHE_PROVIDER", "redis"), ("DB_PROVIDER", "sqlite"), ("REDIS_URL", "redis://h"), PLAINTEXT][..], &KEYS]
            .concat(),
    );
    // Without the `sealing` feature, the keys alone are refused (`factory::sealing_not_built`).
    #[cfg(feature = "sealing")]
    assert!(text.contains("contradicts"), "{text}");
    #[cfg(not(feature = "sealing"))]
    assert!(text.contains("`sealing` feature"), "{text}");
}

#[cfg(feature = "sealing")]
#[test]
fn bad_sealing_keys_are_rejected_without_echoing_them() {
    let cases: [(&[(&str, &str)], &str); 5] = [
        (&[("CACHE_KEY_SECRET", "c2hvcnQ="), KEYS[1]], "at least 32"),
        (&[("CACHE_KEY_SECRET", "not base64!!"), KEYS[1]], "not base64"),
        (&[KEYS[0], ("CACHE_ENCRYPTION_KEYS", "k1:c2hvcnQ=")], "exactly 32 bytes"),
        (&[KEYS[0], ("CACHE_ENCRYPTION_KEYS", "nokid")], "kid:base64key"),
        (
            &[
                KEYS[0],
                (
                    "CACHE_ENCRYPTION_KEYS",
                    "a:dT3jvNcsMaepLZm2f4x22T60WwbwzsXZv9Mn3bm/3cg=,a:dT3jvNcsMaepLZm2f4x22T60WwbwzsXZv9Mn3bm/3cg=",
                ),
            ],
            "twice",
        ),
    ];
    for (vars, expected) in cases {
        let text = error_text(&[EMBEDDED, vars].concat());
        assert!(text.contains(expected), "{text}");
        assert!(!text.contains("dT3jvNcs") && !text.contains("aOE41jf"), "{text}");
    }
    let text = error_text(&[EMBEDDED, &[KEYS[0]]].concat());
    assert!(text.contains("must be set together"), "{text}");
    let both =
        error_text(&[EMBEDDED, &[("CACHE_KEY_SECRET", "c2hvcnQ="), ("CACHE_ENCRYPTION_KEYS", "nokid")]].concat());
    assert!(
        both.starts_with("2 configuration errors") && both.contains("at least 32") && both.contains("kid:base64key"),
        "{both}"
    );
}

#[test]
fn replica_urls_are_a_list_checked_one_by_one() {
    let pg = [("CACHE_PROVIDER", "memory"), ("DB_PROVIDER", "postgresql"), ("DATABASE_URL", "postgres://p/app")];
    fn with<'a>(pg: &[(&'a str, &'a str)], replicas: &'a str) -> Vec<(&'a str, &'a str)> {
        [pg, &[("DB_REPLICA_URL", replicas)]].concat()
    }
    let ok = settings(&with(&pg, "postgres://r1:5433/app, postgres://u:pw@r2/app?sslmode=disable")).unwrap();
    let names: Vec<&str> = ok.db_settings().unwrap().replicas.iter().map(|r| r.url.address()).collect();
    assert_eq!(names, ["r1:5433", "r2"]);
    assert_eq!(ok.db_settings().unwrap().replication.max_lag, Some(std::time::Duration::from_millis(5000)));

    let text = error_text(&with(&pg, "postgres://r1/app,mysql://u:s3cret@r2/app"));
    assert!(text.contains("DB_REPLICA_URL") && text.contains("URL 2"), "{text}");
    assert!(!text.contains("s3cret"), "{text}");
    let off = settings(&[&with(&pg, "postgres://r1/app")[..], &[("DB_REPLICA_MAX_LAG_MS", "0")]].concat()).unwrap();
    assert_eq!(off.db_settings().unwrap().replication.max_lag, None);

    let crdb = [("CACHE_PROVIDER", "memory"), ("DB_PROVIDER", "cockroachdb"), ("DATABASE_URL", "postgres://c/app")];
    let text = error_text(&[&crdb[..], &[("DB_REPLICA_URL", "postgres://c2/app")]].concat());
    assert!(text.contains("DB_PROVIDER=cockroachdb has no replicas"), "{text}");
}

fn parts(vars: &[(&str, &str)], parts: Parts) -> Result<Settings, ConfigErrors> {
    let map = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    Settings::read_parts(map, &[], parts, |_| ()).map(|(s, ())| s)
}

#[tokio::test]
async fn a_part_not_read_is_neither_validated_nor_built() {
    // The default cache (redis) without REDIS_URL or sealing keys, and a bad cache variable.
    let db_only = [("DB_PROVIDER", "sqlite"), ("CACHE_MEMORY_MAX_ENTRIES", "x")];
    let s = parts(&db_only, Parts::DATABASE).unwrap();
    assert!(s.cache.is_none() && s.db.is_some());
    let err = crate::factory::build_cache(&s).await.err().expect("the cache was not read");
    assert_eq!(err.kind(), crate::ErrorKind::Config);
    assert!(err.to_string().contains("the cache was not configured"), "{err}");
    assert!(parts(&db_only, Parts::ALL).is_err(), "all parts validate the cache too");

    // The default database (postgresql) without DATABASE_URL, and a bad database variable.
    let cache_only = [("CACHE_PROVIDER", "memory"), ("DB_POOL_MAX", "lots")];
    let s = parts(&cache_only, Parts::CACHE).unwrap();
    assert!(s.cache.is_some() && s.db.is_none());
    assert!(crate::factory::build_database(&s).await.is_err());

    // A cache that keeps data in the database brings the database's part.
    let hybrid = [("CACHE_PROVIDER", "redis-hybrid"), ("REDIS_URL", "redis://h"), PLAINTEXT];
    let text = parts(&hybrid, Parts::CACHE).expect_err("the database part is needed").to_string();
    assert!(text.contains("DATABASE_URL must be set"), "{text}");
    let with_db = [&hybrid[..], &[("DB_PROVIDER", "sqlite")]].concat();
    assert!(parts(&with_db, Parts::CACHE).unwrap().db.is_some());
}

#[test]
fn renamed_variables_keep_working_under_their_old_names() {
    let s = settings(&[EMBEDDED, &[("POSTGRES_FALLBACK_ENABLED", "maybe")]].concat()).unwrap_err().to_string();
    assert!(s.contains("CACHE_FALLBACK_ENABLED=\"maybe\" is not valid"), "the old name's value is read: {s}");
    let s = settings(&[EMBEDDED, &[("POSTGRES_FALLBACK_CACHE", "false")]].concat()).unwrap();
    assert_eq!(s.warnings.len(), 1, "{:?}", s.warnings);
    assert!(
        s.warnings[0].contains("POSTGRES_FALLBACK_CACHE is now called CACHE_FALLBACK_WRITE_THROUGH"),
        "{:?}",
        s.warnings
    );
    let text =
        error_text(&[EMBEDDED, &[("POSTGRES_FALLBACK_ENABLED", "false"), ("CACHE_FALLBACK_ENABLED", "true")]].concat());
    assert!(text.contains("keep CACHE_FALLBACK_ENABLED only"), "{text}");
}

#[test]
fn misspelled_names_are_told_from_an_applications_own_that_share_a_prefix() {
    let own = [
        ("DB_APP_NAME", "notes"),
        ("REDIS_APP_THING", "x"),
        ("CACHE_APP_LAYOUT", "grid"),
        ("METRICS_APP_PORT", "9100"),
        ("AUDIT_APP_OWNER", "ops"),
        ("DATABASE_APP_SCHEMA", "notes"),
    ];
    let s = settings(&[EMBEDDED, &own].concat()).unwrap();
    assert!(s.warnings.is_empty(), "the application's own variables pass in silence: {:?}", s.warnings);
    let s = settings(&[EMBEDDED, &own, &[("DB_PROVDER", "sqlite")]].concat()).unwrap();
    assert_eq!(s.warnings, ["DB_PROVDER is set but pal does not read it; did you mean DB_PROVIDER?"]);
}

/// What the builder below sets, as variables.
fn builder_vars() -> Vec<(&'static str, &'static str)> {
    let mut vars = vec![
        ("CACHE_PROVIDER", "redis"),
        ("REDIS_URL", "redis://user:pw@127.0.0.1:6379"),
        ("DB_PROVIDER", "postgresql"),
        ("DATABASE_URL", "postgres://app:pw@db/app"),
        ("CACHE_KEY_PREFIX", "notes:"),
        ("METRICS_ENABLED", "false"),
        ("DB_AUTO_MIGRATE", "true"),
        ("DB_POOL_MAX", "7"),
    ];
    vars.extend(SEALED);
    vars
}

fn builder() -> SettingsBuilder {
    let builder = Settings::builder()
        .cache_provider("redis")
        .redis_url("redis://user:pw@127.0.0.1:6379")
        .database("postgresql", "postgres://app:pw@db/app")
        .key_prefix("notes:")
        .metrics(false)
        .auto_migrate(true)
        .var("DB_POOL_MAX", "7");
    match cfg!(feature = "sealing") {
        true => builder.sealing_keys(KEYS[0].1, KEYS[1].1),
        false => builder.insecure_no_encryption(true),
    }
}

#[test]
fn the_builder_reads_as_the_same_variables_would() {
    let built = builder().build().unwrap();
    let read = settings(&builder_vars()).unwrap();
    assert_eq!(format!("{built:?}"), format!("{read:?}"));
    assert_eq!(built.cache_settings().unwrap().key_prefix, "notes:");
    assert_eq!(built.db_settings().unwrap().pool.max, 7);
    assert!(built.db_settings().unwrap().auto_migrate && !built.metrics);
    #[cfg(feature = "sealing")]
    assert!(built.cache_settings().unwrap().sealing.is_some());

    // Over the process environment, the setters win; the rest is the environment's.
    let over_env = SettingsBuilder::from_env().cache_provider("memory").database("sqlite", "sqlite::memory:").build();
    let mut env = crate::env::process_vars();
    env.extend(
        [("CACHE_PROVIDER", "memory"), ("DB_PROVIDER", "sqlite"), ("DATABASE_URL", "sqlite::memory:")]
            .map(|(k, v)| (k.to_string(), v.to_string())),
    );
    assert_eq!(format!("{over_env:?}"), format!("{:?}", Settings::from_map(env)));
}

#[test]
fn a_bad_value_through_the_builder_is_the_error_the_environment_gets() {
    let cases: [(SettingsBuilder, &[(&str, &str)]); 3] = [
        (
            Settings::builder().database("sqlite", "sqlite::memory:").var("DB_POOL_MAX", "many"),
            &[("DB_PROVIDER", "sqlite"), ("DATABASE_URL", "sqlite::memory:"), ("DB_POOL_MAX", "many")],
        ),
        (
            Settings::builder().cache_provider("memory").database("postgresql", "mysql://u:s3cret@h/db"),
            &[("CACHE_PROVIDER", "memory"), ("DB_PROVIDER", "postgresql"), ("DATABASE_URL", "mysql://u:s3cret@h/db")],
        ),
        (
            Settings::builder().cache_provider("redis").database("sqlite", "sqlite::memory:"),
            &[("CACHE_PROVIDER", "redis"), ("DB_PROVIDER", "sqlite"), ("DATABASE_URL", "sqlite::memory:")],
        ),
    ];
    for (builder, vars) in cases {
        let built = builder.build().expect_err("refused").to_string();
        assert_eq!(built, error_text(vars));
        assert!(!built.contains("s3cret"), "{built}");
    }
}

#[test]
fn a_name_the_builder_is_given_must_be_declared() {
    let err = Settings::builder()
        .cache_provider("memory")
        .var("DB_PROVDER", "sqlite")
        .var("NOTES_PAGE_SIZE", "50")
        .var("DB_POOL_MAX", "many")
        .build()
        .expect_err("unknown names are refused");
    let text = err.to_string();
    assert_eq!(err.errors.len(), 4, "every problem at once: {text}");
    assert!(err.notes.is_empty(), "an unknown name is an error, not also a warning: {text}");
    assert!(text.contains("DB_PROVDER is not a variable pal reads (did you mean DB_PROVIDER?)"), "{text}");
    assert!(text.contains("NOTES_PAGE_SIZE is not a variable pal reads\n"), "no guess when none is close: {text}");
    assert!(text.contains("DB_POOL_MAX=\"many\" is not valid"), "{text}");
    assert!(text.contains("DATABASE_URL must be set for DB_PROVIDER=postgresql"), "{text}");
    let renamed = Settings::builder().var("POSTGRES_FALLBACK_ENABLED", "true").build().unwrap_err().to_string();
    assert!(renamed.contains("(did you mean CACHE_FALLBACK_ENABLED?)"), "a former name points to the new: {renamed}");

    // The application's own, declared, are accepted and read with pal's.
    let app = [Var::new("NOTES_PAGE_SIZE", Some("20"), "Notes per page")];
    let (s, page) = Settings::builder()
        .cache_provider("memory")
        .database("sqlite", "sqlite::memory:")
        .var("NOTES_PAGE_SIZE", "50")
        .build_with(&app, |env| env.int("NOTES_PAGE_SIZE", 1u32, 1000))
        .unwrap();
    assert_eq!((s.cache_settings().unwrap().provider.name, page), ("memory", 50));
}

#[test]
fn the_builders_debug_shows_no_secret_and_nothing_but_pals() {
    let shown = format!("{:?}", builder().var("CACHE_MAX_VALUE_BYTES", "1024"));
    assert!(shown.contains("\"CACHE_PROVIDER\": \"redis\"") && shown.contains("\"REDIS_URL\": \"***\""), "{shown}");
    for secret in [":pw@", &KEYS[0].1[..12], &KEYS[1].1[3..15]] {
        assert!(!shown.contains(secret), "{secret} leaked: {shown}");
    }
    let from_env = format!("{:?}", SettingsBuilder::from_env());
    assert!(!from_env.contains("PATH"), "the rest of the environment is not shown: {from_env}");
}
