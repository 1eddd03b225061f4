//! The functions' logs, as `lambda_runtime::tracing::init_default_subscriber` writes them:
//! to stdout, without time or target, as JSON when `AWS_LAMBDA_LOG_FORMAT` is `JSON` (the
//! template's `LoggingConfig`); the level from `AWS_LAMBDA_LOG_LEVEL`, else `RUST_LOG`, else
//! `INFO`, and `RUST_LOG`'s `target=level` directives. Its `EnvFilter` also reads span and
//! field filters, which link a regular-expression engine into every function (docs/bench.md);
//! a `RUST_LOG` with those is ignored here, and the first log line says so.

use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::Layer;

/// Installs the function's log subscriber (once, at cold start).
pub fn init() {
    let var = |name| std::env::var(name).ok();
    let filter = filter(var("AWS_LAMBDA_LOG_LEVEL"), var("RUST_LOG"));
    let json = var("AWS_LAMBDA_LOG_FORMAT").is_some_and(|f| f.eq_ignore_ascii_case("json"));
    let logs = tracing_subscriber::fmt::layer()
        .with_target(false)
        .without_time()
        .with_writer(std::io::stdout);
    let logs = match json {
        true => logs.json().with_filter(filter).boxed(),
        false => logs.with_filter(filter).boxed(),
    };
    tracing_subscriber::registry().with(logs).init();
    if let Some(ignored) = unread(var("RUST_LOG")) {
        tracing::warn!(
            rust_log = %ignored,
            "RUST_LOG is not read: the functions take level and target=level directives, \
             not span or field filters"
        );
    }
}

/// Span or field filters (`target[span{field=value}]=level`): `Targets` would take the
/// brackets for part of a target's name, which matches nothing, and log nothing else.
fn has_spans(directives: &str) -> bool {
    directives.contains(['[', '{'])
}

/// A `RUST_LOG` that `filter` does not read (span or field filters, or a typo).
fn unread(rust_log: Option<String>) -> Option<String> {
    rust_log.filter(|d| {
        has_spans(d)
            || (!d.trim().is_empty()
                && d.parse::<Targets>().is_err()
                && d.trim().parse::<LevelFilter>().is_err())
    })
}

/// What is logged, as the runtime's `EnvFilter` decides it: `RUST_LOG`'s directives where it
/// has any (`info`, `renewals_dynamodb=debug`), else everything at the level named (Lambda's
/// levels `TRACE` … `ERROR`; anything else, `FATAL` included, is `INFO`).
fn filter(lambda_level: Option<String>, rust_log: Option<String>) -> Targets {
    let rust_log = rust_log.filter(|d| !has_spans(d));
    let directives = rust_log.as_deref().and_then(|d| d.parse::<Targets>().ok());
    if let Some(directives) =
        directives.filter(|d| d.default_level().is_some() || d.iter().next().is_some())
    {
        return directives;
    }
    let level = lambda_level
        .as_deref()
        .or(rust_log.as_deref())
        .and_then(|l| l.trim().parse::<LevelFilter>().ok())
        .unwrap_or(LevelFilter::INFO);
    Targets::new().with_default(level)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing::Level;

    fn some(s: &str) -> Option<String> {
        Some(s.to_string())
    }

    #[test]
    fn without_rust_log_the_level_is_lambdas_else_info() {
        let f = filter(None, None);
        assert!(f.would_enable("renewals_app", &Level::INFO));
        assert!(!f.would_enable("renewals_app", &Level::DEBUG));
        let f = filter(some("WARN"), None);
        assert!(!f.would_enable("renewals_app", &Level::INFO));
        assert!(f.would_enable("renewals_app", &Level::WARN));
        let f = filter(some("FATAL"), None);
        assert!(f.would_enable("renewals_app", &Level::INFO));
    }

    #[test]
    fn rust_log_directives_apply_per_target() {
        let f = filter(some("ERROR"), some("renewals_dynamodb=debug,info"));
        assert!(f.would_enable("renewals_dynamodb", &Level::DEBUG));
        assert!(f.would_enable("aws_smithy_runtime", &Level::INFO));
        assert!(!f.would_enable("aws_smithy_runtime", &Level::DEBUG));
        let f = filter(None, some("debug"));
        assert!(f.would_enable("renewals_app", &Level::DEBUG));
    }

    #[test]
    fn a_rust_log_with_span_or_field_filters_is_reported_as_unread() {
        assert_eq!(unread(None), None);
        assert_eq!(unread(some("")), None);
        assert_eq!(unread(some("debug")), None);
        assert_eq!(unread(some("renewals_dynamodb=debug,info")), None);
        let spans = "renewals_app[settle]=debug";
        assert_eq!(unread(some(spans)), some(spans));
        let fields = "renewals_app[{tenant=t1}]=debug";
        assert_eq!(unread(some(fields)), some(fields));
        assert_eq!(unread(some("renewals_app=loud")), some("renewals_app=loud"));
        // What is logged instead: the level Lambda names, else INFO, for every target.
        let f = filter(None, some(spans));
        assert!(f.would_enable("renewals_app", &Level::INFO));
        assert!(f.would_enable("renewals_dynamodb", &Level::ERROR));
        assert!(!f.would_enable("renewals_app", &Level::DEBUG));
        let f = filter(some("WARN"), some(fields));
        assert!(f.would_enable("renewals_app", &Level::WARN));
        assert!(!f.would_enable("renewals_app", &Level::INFO));
    }
}
