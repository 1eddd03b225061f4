//! The functions' logs, as `lambda_runtime::tracing::init_default_subscriber` writes them:
//! to stdout, without time or target, as JSON when `AWS_LAMBDA_LOG_FORMAT` is `JSON` (the
//! template's `LoggingConfig`); the level from `AWS_LAMBDA_LOG_LEVEL`, else `RUST_LOG`, else
//! `INFO`, and `RUST_LOG`'s `target=level` directives. Its `EnvFilter` also reads span and
//! field filters, which link a regular-expression engine into every function (docs/bench.md);
//! a `RUST_LOG` with those is ignored here.

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
}

/// What is logged, as the runtime's `EnvFilter` decides it: `RUST_LOG`'s directives where it
/// has any (`info`, `renewals_dynamodb=debug`), else everything at the level named (Lambda's
/// levels `TRACE` … `ERROR`; anything else, `FATAL` included, is `INFO`).
fn filter(lambda_level: Option<String>, rust_log: Option<String>) -> Targets {
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
}
