//! One mock server for all the parties, at the same paths as the real services (so pointing
//! kuzet at the mocks changes only scheme, host and port in each party's URL), plus the
//! control endpoint and the call journal of [`crate::control`]. `kuzet mocks` and
//! `kuzet serve --mock-upstreams` both run this.

use std::io;
use std::net::SocketAddr;

use crate::control::Control;
use crate::fcb::{self, FcbMockOptions};
use crate::shep::{self, PartyKnobs, ShepMockOptions};
use crate::tls::{ClientAuth, TestPki};
use crate::{Knobs, Running};

/// What the combined server runs.
#[derive(Debug, Clone)]
pub struct MockServerOptions {
    /// Where to listen; `127.0.0.1:0` picks a free port.
    pub listen: SocketAddr,
    /// The bureau's options (its `listen` is ignored: the server's is used).
    pub fcb: FcbMockOptions,
    /// The e-government gateway's options (pension centre; its `listen` is ignored).
    pub shep: ShepMockOptions,
    /// Serve over TLS with this test PKI (and, with [`ClientAuth::Required`], mutual TLS).
    pub tls: Option<(TestPki, ClientAuth)>,
}

impl Default for MockServerOptions {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            fcb: FcbMockOptions::default(),
            shep: ShepMockOptions::default(),
            tls: None,
        }
    }
}

/// The running combined server. [`Running::calls`] and the fault setters of `running` act on
/// the bureau; each party's own knobs are here too.
#[derive(Debug)]
pub struct MockServer {
    pub running: Running,
    /// The bureau's knobs.
    pub fcb: Knobs,
    /// The e-government gateway's channel knobs (every registry behind it).
    pub shep: Knobs,
    /// The knobs of each registry behind the channel (pension centre, traffic authority).
    pub registries: PartyKnobs,
    /// The control endpoint's parties and the journal.
    pub control: Control,
    /// The batches the bureau's upload service received (with their contract codes).
    pub uploads: crate::fcb::Uploads,
}

impl MockServer {
    /// The bureau's report service URL on this server.
    pub fn fcb_url(&self) -> String {
        self.running.url(fcb::SERVICE_PATH)
    }

    /// The e-government gateway's sync channel URL on this server.
    pub fn shep_url(&self) -> String {
        self.running.url(shep::SYNC_PATH)
    }
}

/// Starts the combined server.
pub async fn spawn(options: MockServerOptions) -> io::Result<MockServer> {
    let fcb_knobs = Knobs::new(
        options.fcb.latency,
        options.fcb.fail_first,
        options.fcb.fault,
    );
    let shep_knobs = Knobs::new(
        options.shep.latency,
        options.shep.fail_first,
        options.shep.fault,
    );
    // One SHEP channel carries both registries. A fault set for `gcvp` or for `traffic` is that
    // registry's (the mock routes by `serviceId` first); one set for `shep` is the channel's and
    // reaches both.
    let registries = PartyKnobs::default();
    let uploads = options.fcb.uploads.clone();
    let control = Control::default()
        .with_party("fcb", fcb_knobs.clone())
        .with_party("gcvp", registries.gcvp.clone())
        .with_party("traffic", registries.traffic.clone())
        .with_party("shep", shep_knobs.clone());
    let fcb_router = control.journaled(
        "fcb",
        fcb::router_with_knobs(options.fcb, fcb_knobs.clone()),
    );
    let shep_router = control.journaled(
        "shep",
        shep::router_with_party_knobs(options.shep, shep_knobs.clone(), registries.clone())?,
    );
    // The bureau's router answers every path it is given, so it is the fallback behind the
    // named routes (control, SHEP).
    let router = control
        .router()
        .merge(shep_router)
        .fallback_service(fcb_router);
    let running = match &options.tls {
        None => Running::serve(options.listen, router, fcb_knobs.clone()).await?,
        Some((pki, auth)) => {
            let config = pki.server_config(*auth)?;
            Running::serve_tls(options.listen, config, router, fcb_knobs.clone()).await?
        }
    };
    Ok(MockServer {
        running,
        fcb: fcb_knobs,
        shep: shep_knobs,
        registries,
        control,
        uploads,
    })
}
