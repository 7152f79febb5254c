//! Wiring: load the app, start the handler, then the triggers.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use servicebus_emulator::{Broker, BrokerError, QueueConfig};
use tokio::sync::broadcast;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::config::{self, FunctionDef, HostConfig, OutputKind, Trigger};
use crate::error::HostError;
use crate::events::{Events, HostEvent, LogLevel};
use crate::http::server::{self, HttpFunctions};
use crate::invoke::Invoker;
use crate::servicebus::Listener;
use crate::supervisor::{Supervisor, unused_tcp_port};
use crate::timer::runner::TimerRunner;
use crate::timer::status::StatusStore;

/// A function the host indexed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionInfo {
    pub name: String,
    pub trigger: TriggerInfo,
    /// Output binding names.
    pub outputs: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TriggerInfo {
    ServiceBus {
        queue: String,
        sessions: bool,
    },
    Timer {
        schedule: String,
    },
    /// `auth_level` is reported, not enforced (as under Core Tools).
    Http {
        url: String,
        methods: Option<Vec<String>>,
        auth_level: String,
    },
}

/// A started host. It runs until the shutdown token passed to [`start`] is cancelled or the
/// handler exceeds its restart limit.
pub struct RunningHost {
    http_addr: SocketAddr,
    events: Events,
    first_subscriber: Mutex<Option<broadcast::Receiver<HostEvent>>>,
    functions: Vec<FunctionInfo>,
    task: tokio::task::JoinHandle<Result<(), HostError>>,
}

impl RunningHost {
    pub fn http_addr(&self) -> SocketAddr {
        self.http_addr
    }

    /// The first call gets every event since `start` began (handler start and readiness
    /// included); later calls see events from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<HostEvent> {
        self.first_subscriber
            .lock()
            .ok()
            .and_then(|mut first| first.take())
            .unwrap_or_else(|| self.events.subscribe())
    }

    pub fn functions(&self) -> Vec<FunctionInfo> {
        self.functions.clone()
    }

    /// Waits for the host to stop: `Ok` after shutdown, `Err` when it stopped on its own.
    pub async fn stopped(self) -> Result<(), HostError> {
        match self.task.await {
            Ok(result) => result,
            Err(e) => Err(HostError::TaskFailed(e.to_string())),
        }
    }
}

/// Starts the handler, waits until it answers `GET /`, then starts the triggers and the HTTP
/// endpoint. Queues named by triggers and outputs are created in `broker` if missing.
pub async fn start(
    config: HostConfig,
    broker: Broker,
    shutdown: CancellationToken,
) -> Result<RunningHost, HostError> {
    let app = config::load(&config)?;
    // Triggers first: a queue takes its session mode from the function it triggers, not from
    // another function's output binding that happens to be read earlier.
    for f in &app.functions {
        if let Trigger::ServiceBus(t) = &f.trigger {
            ensure_queue(&broker, f, &t.queue, Some(t.sessions))?;
        }
    }
    for f in &app.functions {
        for o in &f.outputs {
            if let OutputKind::ServiceBus { queue, .. } = &o.kind {
                ensure_queue(&broker, f, queue, None)?;
            }
        }
    }
    let store = Arc::new(StatusStore::open(config.state_dir.clone())?);
    let listener = server::bind(config.http_addr).await?;
    let http_addr = listener
        .local_addr()
        .map_err(|source| HostError::HttpBind {
            addr: config.http_addr,
            source,
        })?;

    let events = Events::new();
    let first_subscriber = events.subscribe();
    let internal = shutdown.child_token();
    let supervisor = Supervisor {
        command: app.handler.clone(),
        settings: app.settings.clone(),
        app_root: app.app_root.clone(),
        port: unused_tcp_port()?,
        initialization_timeout: config.initialization_timeout,
        events: events.clone(),
    };
    let (link, supervisor_task) = supervisor.spawn(internal.clone());
    if let Err(why) = link.ready().await {
        internal.cancel();
        return Err(match supervisor_task.await {
            Ok(Err(e)) => e,
            _ => HostError::stopped(why),
        });
    }

    let invoker = Invoker::new(
        link,
        config.host_version.clone(),
        app.function_timeout,
        events.clone(),
        broker.clone(),
    );
    let functions: Vec<Arc<FunctionDef>> = app.functions.iter().cloned().map(Arc::new).collect();
    let mut tasks = JoinSet::new();
    let mut http_functions = Vec::new();
    for f in &functions {
        match &f.trigger {
            Trigger::ServiceBus(t) => {
                let listener = Listener::new(
                    f.clone(),
                    t.clone(),
                    app.service_bus.clone(),
                    invoker.clone(),
                );
                tasks.spawn(listener.run(internal.clone()));
            }
            Trigger::Timer(t) => {
                let runner = TimerRunner {
                    function: f.clone(),
                    trigger: t.clone(),
                    invoker: invoker.clone(),
                    store: store.clone(),
                };
                tasks.spawn(runner.run(internal.clone()));
            }
            Trigger::Http(_) => http_functions.push(f.clone()),
        }
    }
    let prefix: Vec<String> = app
        .route_prefix
        .split('/')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    let http_app = HttpFunctions {
        route_prefix: prefix.clone(),
        functions: http_functions,
        invoker: invoker.clone(),
    };
    let http_events = events.clone();
    let http_shutdown = internal.clone();
    tasks.spawn(async move {
        if let Err(e) = server::serve(listener, http_app, http_shutdown).await {
            http_events.log(
                "host",
                LogLevel::Error,
                format!("HTTP listener stopped: {e}"),
            );
        }
    });

    let infos = functions
        .iter()
        .map(|f| info(f, http_addr, &prefix))
        .collect::<Vec<_>>();
    for i in &infos {
        events.log("host", LogLevel::Information, describe(i));
    }

    let task = tokio::spawn(async move {
        let result = match supervisor_task.await {
            Ok(r) => r,
            Err(e) => Err(HostError::TaskFailed(e.to_string())),
        };
        internal.cancel();
        while tasks.join_next().await.is_some() {}
        result
    });
    Ok(RunningHost {
        http_addr,
        events,
        first_subscriber: Mutex::new(Some(first_subscriber)),
        functions: infos,
        task,
    })
}

/// Creates `queue` if missing. `trigger_sessions`: the queue triggers `f`, whose session mode it
/// must have (`None` for an output binding, which sends to whatever the queue is).
fn ensure_queue(
    broker: &Broker,
    f: &FunctionDef,
    queue: &str,
    trigger_sessions: Option<bool>,
) -> Result<(), HostError> {
    match broker.queue_config(queue) {
        Ok(existing) => match trigger_sessions {
            Some(sessions) if existing.requires_session != sessions => {
                Err(HostError::SessionMismatch {
                    function: f.name.clone(),
                    queue: queue.to_owned(),
                    trigger_sessions: sessions,
                    queue_sessions: existing.requires_session,
                })
            }
            _ => Ok(()),
        },
        Err(BrokerError::QueueNotFound(_)) => {
            broker.create_queue(
                queue,
                QueueConfig {
                    requires_session: trigger_sessions.unwrap_or(false),
                    ..QueueConfig::default()
                },
            );
            Ok(())
        }
        Err(source) => Err(HostError::Broker {
            function: f.name.clone(),
            queue: queue.to_owned(),
            source,
        }),
    }
}

fn info(f: &FunctionDef, http_addr: SocketAddr, prefix: &[String]) -> FunctionInfo {
    let trigger = match &f.trigger {
        Trigger::ServiceBus(t) => TriggerInfo::ServiceBus {
            queue: t.queue.clone(),
            sessions: t.sessions,
        },
        Trigger::Timer(t) => TriggerInfo::Timer {
            schedule: t.schedule_text.clone(),
        },
        Trigger::Http(t) => {
            let mut path: Vec<&str> = prefix.iter().map(String::as_str).collect();
            if !t.route.as_str().is_empty() {
                path.push(t.route.as_str());
            }
            TriggerInfo::Http {
                url: format!("http://{http_addr}/{}", path.join("/")),
                methods: t.methods.clone(),
                auth_level: t.auth_level.clone(),
            }
        }
    };
    FunctionInfo {
        name: f.name.clone(),
        trigger,
        outputs: f.outputs.iter().map(|o| o.name.clone()).collect(),
    }
}

fn describe(i: &FunctionInfo) -> String {
    match &i.trigger {
        TriggerInfo::ServiceBus { queue, sessions } => format!(
            "{}: serviceBusTrigger on queue '{queue}'{}",
            i.name,
            if *sessions { " (sessions)" } else { "" }
        ),
        TriggerInfo::Timer { schedule } => format!("{}: timerTrigger '{schedule}'", i.name),
        TriggerInfo::Http { url, methods, .. } => format!(
            "{}: [{}] {url}",
            i.name,
            methods
                .as_ref()
                .map_or_else(|| "ALL".to_owned(), |m| m.join(","))
        ),
    }
}
