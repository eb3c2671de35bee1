//! `cruddur serve` (the API against the configured database) and `cruddur up` (embedded
//! cluster or CONNECTION_URL → migrate → seed if empty → serve). Both only turn flags into
//! [`api::AppConfig`]; the service is built by [`api::App`].

use anyhow::Context;

use crate::output;
use crate::serve_args::ServeArgs;
use crate::target::Target;

/// `up`'s options: the server's, and whether demo users may be seeded outside the embedded
/// cluster.
#[derive(Debug, clap::Args)]
pub(crate) struct UpArgs {
    #[command(flatten)]
    pub serve: ServeArgs,
    #[command(flatten)]
    pub demo_users: crate::db_cmd::DemoUsersArgs,
    /// Start the embedded cluster's standby (`cruddur local standby start`) and read from it.
    #[arg(long)]
    pub read_local_standby: bool,
}

/// `up`: prepare the database, seed an empty one (demo users only where allowed), then serve.
pub(crate) async fn up(target: Target, mut args: UpArgs) -> anyhow::Result<()> {
    output::heading("up");
    args.serve.database.refuse_passwords_in_argv()?;
    if target.cluster.is_some() {
        crate::db_cmd::ensure_database(&target).await?;
    }
    // Migrations hold a session advisory lock, and the seed prepares named statements: a
    // transaction pooler keeps neither, so behind one both go to the primary directly.
    let direct = match args.serve.database.db_pooler {
        db::Pooler::None => None,
        db::Pooler::Transaction => Some(args.serve.database.direct_target(&target)?),
    };
    let admin = direct.as_ref().unwrap_or(&target);
    crate::db_cmd::migrate(admin).await?;
    let client = db::pool::connect(&admin.settings).await?;
    let counts = db::admin::count_rows(&client).await?;
    drop(client);
    if counts.is_none_or(|c| c.users == 0) {
        if target.allows_demo_users(args.demo_users.allow_demo_users) {
            crate::db_cmd::seed(admin, None).await?;
        } else {
            crate::db_cmd::skip_seed(&target);
        }
    }
    if args.read_local_standby {
        let Some(cluster) = &target.cluster else {
            anyhow::bail!("--read-local-standby reads from the embedded cluster's standby, but the database is {} ({}); set READ_CONNECTION_URL instead", target.source, target.url.masked());
        };
        let standby = cluster.standby()?;
        let running = standby
            .start()
            .context("cannot start the embedded cluster's standby")?;
        if running.started_now {
            output::line(format!("started the standby on 127.0.0.1:{}", running.port));
        }
        let url = standby.url(running.port, local_cluster::APP_DATABASE)?;
        args.serve.database.read_connection_url = Some(url.expose().to_owned());
    }
    run(&target, &args.serve).await
}

/// `serve`: the API against `target`, as it is.
pub(crate) async fn serve(target: Target, args: ServeArgs) -> anyhow::Result<()> {
    args.database.refuse_passwords_in_argv()?;
    run(&target, &args).await
}

async fn run(target: &Target, args: &ServeArgs) -> anyhow::Result<()> {
    let app = api::App::build(args.app_config(target)?).await?;
    let addr = app.local_addr();
    output::line(format!("cruddur is up: http://{addr}/api/activities/home"));
    output::line(format!("web page: http://{addr}/"));
    app.run_until(shutdown_signal()).await;
    Ok(())
}

/// Ctrl-C or SIGTERM, whichever comes first.
async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}
