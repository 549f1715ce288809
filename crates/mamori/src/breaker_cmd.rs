//! `mamori breaker list|release`: an exchange's operator looks at and releases the
//! circuit breakers its events tripped, through the running service's API.

#[derive(Debug, clap::Subcommand)]
pub enum BreakerCommand {
    /// The breakers tripped by your institution's events.
    List(Conn),
    /// Release a tripped breaker, with a reason (recorded).
    Release {
        #[command(flatten)]
        conn: Conn,
        /// The breaker's id (as in the rule pack), e.g. hot-wallet-drain.
        #[arg(long)]
        breaker: String,
        /// The tripped key, comma-separated, e.g. kumo-exchange,XEM.
        #[arg(long = "for", value_delimiter = ',', required = true)]
        key: Vec<String>,
        /// Why it is safe to release (kept with the release).
        #[arg(long)]
        reason: String,
    },
}

#[derive(Debug, clap::Args)]
pub struct Conn {
    /// The service's address.
    #[arg(long, env = "MAMORI_URL", default_value = "http://127.0.0.1:7878")]
    url: String,
    /// Your institution's API key.
    #[arg(long, env = "MAMORI_API_KEY")]
    api_key: String,
}

pub fn run(c: BreakerCommand) -> Result<(), Box<dyn std::error::Error>> {
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let (conn, resp) = match &c {
        BreakerCommand::List(conn) => {
            (conn, agent.get(&format!("{}/v1/breakers", conn.url)).header("Authorization", &format!("Bearer {}", conn.api_key)).call())
        }
        BreakerCommand::Release { conn, breaker, key, reason } => {
            let body = serde_json::json!({ "breaker": breaker, "key": key, "reason": reason });
            (
                conn,
                agent
                    .post(&format!("{}/v1/breakers/release", conn.url))
                    .header("Authorization", &format!("Bearer {}", conn.api_key))
                    .content_type("application/json")
                    .send(body.to_string()),
            )
        }
    };
    let mut resp = resp.map_err(|e| format!("{}: {e}", conn.url))?;
    let status = resp.status().as_u16();
    let text = resp.body_mut().read_to_string()?;
    let v: serde_json::Value = serde_json::from_str(&text).unwrap_or(serde_json::Value::Null);
    if status != 200 {
        return Err(format!("{status}: {}", v["detail"].as_str().unwrap_or(&text)).into());
    }
    match c {
        BreakerCommand::List(_) => {
            let trips = v["tripped"].as_array().cloned().unwrap_or_default();
            if trips.is_empty() {
                println!("no breaker is tripped");
            }
            for t in trips {
                println!(
                    "{} for {}: tripped at {} by event {} (rule {})",
                    t["breaker"].as_str().unwrap_or(""),
                    t["key"].as_array().map(|k| k.iter().filter_map(|x| x.as_str()).collect::<Vec<_>>().join(",")).unwrap_or_default(),
                    t["at"].as_str().unwrap_or(""),
                    t["event_id"].as_str().unwrap_or(""),
                    t["rule"].as_str().unwrap_or("")
                );
            }
        }
        BreakerCommand::Release { breaker, key, .. } => println!("released {breaker} for {}", key.join(",")),
    }
    Ok(())
}
