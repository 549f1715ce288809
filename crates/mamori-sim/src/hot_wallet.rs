//! Hot wallet drain (Coincheck, 2018).
//!
//! Each exchange reports its holdings per asset (`wallet_balance`: hot, cold, customer
//! total) every 10 or 60 minutes, and thousands of customer withdrawals. Its operations
//! sweep surplus from the hot wallet to cold storage and refill the hot wallet from cold
//! (large withdrawals to the exchange's own, long-known addresses). Institutions and
//! whales move large sums, mostly to addresses they used before. Busy hours come with
//! market news. The attack: withdrawals from the hot wallet to new addresses that empty
//! it within minutes, often at night.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use serde_json::json;

use crate::dice::Dice;
use crate::people::{ip, new_device};
use crate::world::{Body, CONSUMER_HOURS, DAY, HOUR, Lab, MINUTE, World, jst_day};
use crate::{Kind, RATES_JPY, Scenario};

const SC: Scenario = Scenario::HotWallet;

/// Assets: ticker, decimal places used, customer holdings at scale 1 (JPY, the first
/// exchange; the second holds half), weight among retail withdrawals.
const ASSETS: [(&str, u32, f64, f64); 4] = [("BTC", 8, 30e9, 0.40), ("ETH", 8, 8e9, 0.25), ("XRP", 6, 3e9, 0.25), ("XEM", 6, 5e9, 0.10)];

fn rate(asset: usize) -> i64 {
    let code = ASSETS[asset].0;
    RATES_JPY.iter().find(|r| r.0 == code).map_or(1, |r| r.1)
}

fn unit(asset: usize) -> i128 {
    10i128.pow(ASSETS[asset].1)
}

/// JPY to the asset's smallest units.
fn to_units(asset: usize, jpy: f64) -> i128 {
    (jpy / rate(asset) as f64 * unit(asset) as f64).round() as i128
}

/// The asset's smallest units to whole JPY.
fn to_jpy(asset: usize, units: i128) -> i64 {
    let u = unit(asset);
    ((units * i128::from(rate(asset)) + u / 2) / u) as i64
}

/// Units as a decimal string with no trailing zeros.
fn decimal(asset: usize, units: i128) -> String {
    let units = units.max(0);
    let u = unit(asset);
    let (int, frac) = (units / u, units % u);
    if frac == 0 {
        return int.to_string();
    }
    let places = ASSETS[asset].1 as usize;
    let f = format!("{frac:0places$}");
    format!("{int}.{}", f.trim_end_matches('0'))
}

/// A withdrawal address in the asset's usual shape.
fn address(w: &mut World, d: &mut Dice, asset: usize) -> String {
    w.unique(d, "address", |d| match ASSETS[asset].0 {
        "BTC" => format!("bc1q{}", d.base36(38)),
        "ETH" => format!("0x{}", d.hex(40)),
        "XRP" => format!("r{}", d.base36(33)),
        _ => format!("N{}", d.base36(39).to_uppercase()),
    })
}

/// One exchange's holdings of one asset.
struct Pair {
    inst: usize,
    asset: usize,
    hot: i128,
    cold: i128,
    total: i128,
    /// The share of customer holdings the exchange means to keep hot.
    ratio: f64,
    hot_wallet: String,
    cold_wallet: String,
    hot_address: String,
    cold_address: String,
    ops: String,
    /// Customer deposits arriving, units a second.
    inflow: f64,
    /// Snapshot cadence.
    every: i64,
}

impl Pair {
    fn target(&self) -> i128 {
        (self.total as f64 * self.ratio) as i128
    }
}

/// A withdrawal someone asks for.
#[derive(Clone)]
struct Req {
    t: i64,
    customer: Option<String>,
    account: String,
    units: i128,
    to: String,
    device: Option<String>,
    ip: Option<String>,
}

enum Action {
    Snapshot,
    Housekeep,
    Withdraw(Req),
    Attack,
    Halt,
}

struct Queue {
    heap: BinaryHeap<Reverse<(i64, u64, usize)>>,
    actions: Vec<Option<Action>>,
}

impl Queue {
    fn push(&mut self, t: i64, a: Action) {
        let i = self.actions.len();
        self.actions.push(Some(a));
        self.heap.push(Reverse((t, i as u64, i)));
    }
    fn pop(&mut self) -> Option<(i64, Action)> {
        let Reverse((t, _, i)) = self.heap.pop()?;
        self.actions[i].take().map(|a| (t, a))
    }
}

/// A customer of an exchange.
struct Holder {
    inst: usize,
    customer: String,
    account: String,
    addresses: Vec<Vec<String>>,
    device: String,
    ip: String,
    rate: f64,
}

pub(crate) fn run(w: &mut World, d: &mut Dice) {
    let exchanges = w.of_kind(Kind::Exchange);
    let (start, end) = (w.start, w.end);
    let len = end - start;

    // The attack: which holdings, when. Often at night, like Coincheck's (00:02 JST).
    let attacks = w.scaled(1.0, 1).min(exchanges.len() * 2);
    let mut targets: Vec<(usize, usize)> = Vec::new();
    while targets.len() < attacks {
        let ex = d.below(exchanges.len());
        let assets = if ex == 0 { 4 } else { 3 };
        let a = d.weighted(&[0.3, 0.2, 0.2, if assets == 4 { 0.3 } else { 0.0 }]);
        if !targets.contains(&(ex, a)) {
            targets.push((ex, a));
        }
    }

    let mut pairs: Vec<Pair> = Vec::new();
    for (k, &inst) in exchanges.iter().enumerate() {
        let size = if k == 0 { 1.0 } else { 0.5 };
        let every = if k == 0 { 10 * MINUTE } else { HOUR };
        let nassets = if k == 0 { 4 } else { 3 };
        for (a, asset) in ASSETS.iter().enumerate().take(nassets) {
            let code = asset.0.to_lowercase();
            let attacked = targets.contains(&(k, a));
            // Most keep 2-5% hot (the rule after 2018); an attacked one may keep far more.
            let ratio = if attacked && d.chance(0.5) { d.real(0.2, 1.0) } else { d.real(0.02, 0.05) };
            let total = to_units(a, asset.2 * size * w.scale.max(0.2) * d.real(0.8, 1.2));
            let hot = (total as f64 * ratio) as i128;
            pairs.push(Pair {
                inst,
                asset: a,
                hot,
                cold: total - hot,
                total,
                ratio,
                hot_wallet: format!("hot-{code}-1"),
                cold_wallet: format!("cold-{code}-1"),
                hot_address: address(w, d, a),
                cold_address: address(w, d, a),
                ops: format!("ops-{code}"),
                inflow: 0.0,
                every,
            });
        }
    }
    let pair_of = |pairs: &[Pair], inst: usize, a: usize| pairs.iter().position(|p| p.inst == inst && p.asset == a);

    // Customers and their withdrawals.
    let n = w.scaled(3000.0, 40);
    let mut holders = Vec::with_capacity(n);
    for _ in 0..n {
        let k = if exchanges.len() > 1 && d.chance(0.4) { 1 } else { 0 };
        let inst = exchanges[k];
        let eid = w.inst_id(inst).to_string();
        let customer = w.unique(d, &format!("{eid}/customer"), |d| format!("X{}", d.digits(9)));
        let account = w.unique(d, &format!("{eid}/account"), |d| format!("acct-{}", d.base36(10)));
        let addresses = (0..4).map(|a| (0..d.int(1, 3)).map(|_| address(w, d, a)).collect()).collect();
        holders.push(Holder { inst, customer, account, addresses, device: new_device(w, d), ip: ip(d), rate: d.lognormal(0.08, 0.8) });
    }
    let mut reqs: Vec<Vec<Req>> = (0..pairs.len()).map(|_| Vec::new()).collect();
    // Busy hours: market news multiplies withdrawals.
    let news: Vec<(i64, i64)> = (0..d.int(2, 3))
        .map(|_| {
            let t = start + d.int(0, len - 6 * HOUR);
            (t, t + d.int(2, 6) * HOUR)
        })
        .collect();
    for h in &holders {
        let mut times = World::arrivals(d, start, end, h.rate, &CONSUMER_HOURS);
        for (a, b) in &news {
            times.extend(World::arrivals(d, *a, *b, h.rate * 4.0 * 24.0 / 6.0, &[1.0; 24]));
        }
        let k = exchanges.iter().position(|&e| e == h.inst).unwrap_or(0);
        for t in times {
            let weights: Vec<f64> = ASSETS.iter().enumerate().map(|(i, x)| if k == 0 || i < 3 { x.3 } else { 0.0 }).collect();
            let a = d.weighted(&weights);
            let Some(p) = pair_of(&pairs, h.inst, a) else { continue };
            let jpy = d.lognormal(80_000.0, 1.3).clamp(2_000.0, 30e6);
            let to = if d.chance(0.7) { d.pick(&h.addresses[a]).clone() } else { address(w, d, a) };
            reqs[p].push(Req {
                t,
                customer: Some(h.customer.clone()),
                account: h.account.clone(),
                units: to_units(a, jpy),
                to,
                device: Some(h.device.clone()),
                ip: Some(h.ip.clone()),
            });
        }
    }
    // Institutions and whales: large sums, mostly to addresses they used before (each
    // known address gets a first, smaller withdrawal early on).
    let whales = w.scaled(12.0, 3);
    let mut big_known = 0;
    for _ in 0..whales {
        let k = if exchanges.len() > 1 && d.chance(0.4) { 1 } else { 0 };
        let inst = exchanges[k];
        let eid = w.inst_id(inst).to_string();
        let customer = w.unique(d, &format!("{eid}/customer"), |d| format!("X{}", d.digits(9)));
        let account = w.unique(d, &format!("{eid}/account"), |d| format!("corp-{}", d.base36(8)));
        let a = d.weighted(&[0.5, 0.3, 0.15, if k == 0 { 0.05 } else { 0.0 }]);
        let Some(p) = pair_of(&pairs, inst, a) else { continue };
        let known: Vec<String> = (0..d.int(1, 3)).map(|_| address(w, d, a)).collect();
        let ip = ip(d);
        for addr in &known {
            let t = start + d.int(HOUR, 3 * DAY);
            let units = to_units(a, d.lognormal(3e6, 0.6));
            reqs[p].push(Req {
                t,
                customer: Some(customer.clone()),
                account: account.clone(),
                units,
                to: addr.clone(),
                device: None,
                ip: Some(ip.clone()),
            });
        }
        let rate = d.real(0.15, 0.5);
        for t in World::arrivals(d, start + 3 * DAY, end, rate, &CONSUMER_HOURS) {
            let units = to_units(a, d.lognormal(80e6, 0.9).clamp(10e6, 2e9));
            let to = if d.chance(0.9) {
                big_known += 1;
                d.pick(&known).clone()
            } else {
                address(w, d, a)
            };
            reqs[p].push(Req {
                t,
                customer: Some(customer.clone()),
                account: account.clone(),
                units,
                to,
                device: None,
                ip: Some(ip.clone()),
            });
        }
    }
    // Deposits roughly balance withdrawals.
    for (p, pair) in pairs.iter_mut().enumerate() {
        let out: i128 = reqs[p].iter().map(|r| r.units).sum();
        pair.inflow = out as f64 / len as f64 * d.real(0.9, 1.1);
    }

    let mut attack_no = 0;
    for (p, pair) in pairs.iter_mut().enumerate() {
        let k = exchanges.iter().position(|&e| e == pair.inst).unwrap_or(0);
        let attack = targets.contains(&(k, pair.asset)).then(|| {
            let day = jst_day(start + d.int(len / 5, len - len / 10));
            let hour = if d.chance(0.6) { d.int(0, 3) } else { d.int(4, 23) };
            day * DAY - 9 * HOUR + hour * HOUR + d.int(0, HOUR - 1)
        });
        let chain = attack.map(|_| {
            attack_no += 1;
            format!("hw-{attack_no:02}")
        });
        let mut q = Queue { heap: BinaryHeap::new(), actions: Vec::new() };
        let mut t = start + d.int(0, pair.every - 1);
        while t < end {
            q.push(t, Action::Snapshot);
            t += pair.every;
        }
        let mut t = start + d.int(0, HOUR - 1);
        while t < end {
            q.push(t, Action::Housekeep);
            t += HOUR;
        }
        for r in reqs[p].drain(..) {
            q.push(r.t, Action::Withdraw(r));
        }
        if let (Some(ta), Some(chain)) = (attack, &chain) {
            simulate(w, d, pair, &mut q, Some((ta, chain.as_str())));
        } else {
            simulate(w, d, pair, &mut q, None);
        }
    }
    w.notes.push(format!(
        "hot-wallet: {attack_no} hot wallet drains (hw-NN); {big_known} large withdrawals by institutions to addresses they used before"
    ));
}

/// Runs one exchange-asset through the window.
fn simulate(w: &mut World, d: &mut Dice, p: &mut Pair, q: &mut Queue, attack: Option<(i64, &str)>) {
    let code = ASSETS[p.asset].0;
    let mut last = w.start;
    let mut attacked_at: Option<i64> = None;
    let mut halted = false;
    let mut stolen_ids = Vec::new();
    let mut chain = String::new();
    if let Some((ta, c)) = attack {
        chain = c.to_string();
        q.push(ta, Action::Attack);
    }
    while let Some((t, action)) = q.pop() {
        if t >= w.end {
            continue;
        }
        if !halted {
            let dep = (p.inflow * (t - last).max(0) as f64) as i128;
            p.hot += dep;
            p.total += dep;
        }
        last = t;
        match action {
            Action::Snapshot => {
                let body = Body::new("wallet_balance")
                    .s("asset", code)
                    .s("hot", decimal(p.asset, p.hot))
                    .s("cold", decimal(p.asset, p.cold))
                    .s("customer_total", decimal(p.asset, p.total));
                w.emit(p.inst, t, body, Lab::honest(SC, "balance", 0));
            }
            Action::Housekeep if attacked_at.is_none() => {
                let target = p.target();
                if p.hot > target * 8 / 5 && p.ratio < 0.9 {
                    let units = p.hot - target;
                    move_funds(w, p, t, true, units);
                } else if p.hot < target * 2 / 5 {
                    let units = (target - p.hot).min(p.cold);
                    if units > 0 {
                        move_funds(w, p, t, false, units);
                    }
                }
            }
            Action::Housekeep => {}
            Action::Withdraw(r) => {
                if halted {
                    continue;
                }
                if r.units > p.hot * 4 / 5 {
                    // Not enough hot: before the attack, operations refill it and the
                    // withdrawal goes out a little later; after it, nothing goes out.
                    if attacked_at.is_none() && p.cold > 0 {
                        let units = (r.units * 3 / 2 + p.target() - p.hot).min(p.cold);
                        move_funds(w, p, t, false, units);
                        let later = t + d.int(20 * MINUTE, HOUR);
                        q.push(later, Action::Withdraw(Req { t: later, ..r }));
                    }
                    continue;
                }
                p.hot -= r.units;
                p.total -= r.units;
                let value = to_jpy(p.asset, r.units);
                let body = Body::new("crypto_withdrawal")
                    .o("customer", r.customer)
                    .s("account", r.account)
                    .o("device", r.device)
                    .o("ip", r.ip)
                    .s("asset", code)
                    .s("amount", decimal(p.asset, r.units))
                    .v("wallet", json!({"id": p.hot_wallet, "tier": "hot"}))
                    .s("to_address", r.to);
                w.emit(p.inst, t, body, Lab::honest(SC, "crypto-withdrawal", value));
            }
            Action::Attack => {
                attacked_at = Some(t);
                // A handful of new addresses; the hot wallet emptied in minutes.
                let addrs: Vec<String> = (0..d.int(1, 4)).map(|_| address(w, d, p.asset)).collect();
                let n = d.int(5, 20) as usize;
                let total = (p.hot as f64 * d.real(0.9, 0.995)) as i128;
                let shares: Vec<f64> = (0..n).map(|_| d.exp(1.0) + 0.2).collect();
                let sum: f64 = shares.iter().sum();
                let mut ta = t;
                let mut left = total;
                for (i, s) in shares.iter().enumerate() {
                    let units = if i + 1 == n { left } else { ((total as f64) * s / sum) as i128 };
                    if units <= 0 {
                        continue;
                    }
                    left -= units;
                    p.hot -= units;
                    let value = to_jpy(p.asset, units);
                    let body = Body::new("crypto_withdrawal")
                        .s("account", p.ops.as_str())
                        .s("asset", code)
                        .s("amount", decimal(p.asset, units))
                        .v("wallet", json!({"id": p.hot_wallet, "tier": "hot"}))
                        .s("to_address", d.pick(&addrs).as_str());
                    stolen_ids.push(w.emit(p.inst, ta, body, Lab::fraud(SC, &chain, "crypto-withdrawal", value)));
                    ta += d.int(20, 4 * MINUTE);
                }
                let halt = ta + d.int(30 * MINUTE, 10 * HOUR);
                q.push(halt, Action::Halt);
                w.notes.push(format!(
                    "hot-wallet {chain}: {} {code} ({} JPY) left {}'s hot wallet from {} in {} withdrawals to {} new address(es)",
                    decimal(p.asset, total),
                    to_jpy(p.asset, total),
                    w.inst_id(p.inst),
                    crate::world::format_time(t, false),
                    n,
                    addrs.len()
                ));
            }
            Action::Halt => {
                halted = true;
                let tr = t + d.int(HOUR, 12 * HOUR);
                w.report(p.inst, tr, "institution", &stolen_ids, Lab::fraud(SC, &chain, "fraud-report", 0));
            }
        }
    }
}

/// The exchange's own transfer between its hot and cold wallets.
fn move_funds(w: &mut World, p: &mut Pair, t: i64, to_cold: bool, units: i128) {
    let (wallet, tier, to) = if to_cold { (&p.hot_wallet, "hot", &p.cold_address) } else { (&p.cold_wallet, "cold", &p.hot_address) };
    let body = Body::new("crypto_withdrawal")
        .s("account", p.ops.as_str())
        .s("asset", ASSETS[p.asset].0)
        .s("amount", decimal(p.asset, units))
        .v("wallet", json!({"id": wallet, "tier": tier}))
        .s("to_address", to.as_str());
    w.emit(p.inst, t, body, Lab::honest(SC, "crypto-withdrawal", to_jpy(p.asset, units)));
    if to_cold {
        p.hot -= units;
        p.cold += units;
    } else {
        p.cold -= units;
        p.hot += units;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units() {
        assert_eq!(decimal(0, 150_000_000), "1.5");
        assert_eq!(decimal(0, 1), "0.00000001");
        assert_eq!(decimal(2, 2_000_000), "2");
        assert_eq!(to_jpy(0, 150_000_000), 15_000_000);
        assert_eq!(to_jpy(3, 1_000_000), 100);
        assert_eq!(to_units(0, 10_000_000.0), 100_000_000);
    }
}
