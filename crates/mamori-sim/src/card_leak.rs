//! Card data leaked at a merchant (GMO Payment Gateway, 2017).
//!
//! A merchant's payment page is breached for some days: every card paid there in that
//! window is exposed (labelled `exposed-payment`, an honest payment). Days later the
//! cards are sold in batches and used online elsewhere: small tests, then larger
//! purchases, in bursts or a little every day; the owners report the payments days after
//! that. Around them: many cards at many merchants, shopping trips (several payments in
//! minutes), large honest purchases, people paying at the breached merchant outside the
//! window, and occasional fraud reports of genuine payments.

use crate::dice::Dice;
use crate::people::{ip, new_device};
use crate::world::{Body, CONSUMER_HOURS, DAY, HOUR, Lab, MINUTE, World};
use crate::{Kind, Scenario};

const SC: Scenario = Scenario::CardLeak;

/// Categories: id prefix, online, median amount (JPY), spread, share of merchants,
/// popularity.
const CATEGORIES: [(&str, bool, f64, f64, f64, f64); 10] = [
    ("conv", false, 700.0, 0.6, 0.20, 30.0),
    ("super", false, 3_500.0, 0.6, 0.15, 20.0),
    ("food", false, 2_500.0, 0.8, 0.20, 15.0),
    ("drug", false, 2_000.0, 0.7, 0.10, 10.0),
    ("shop", true, 4_500.0, 0.9, 0.15, 12.0),
    ("elec", true, 25_000.0, 1.0, 0.05, 3.0),
    ("travel", true, 30_000.0, 0.8, 0.04, 2.0),
    ("digital", true, 800.0, 0.9, 0.05, 5.0),
    ("fees", true, 15_000.0, 0.9, 0.03, 2.0),
    ("gift", true, 10_000.0, 0.7, 0.03, 1.0),
];
const CONV: usize = 0;
const SHOP: usize = 4;
const ELEC: usize = 5;
const TRAVEL: usize = 6;
const DIGITAL: usize = 7;
const FEES: usize = 8;
const GIFT: usize = 9;

struct Merchant {
    id: String,
    acquirer: usize,
    cat: usize,
    terminals: Vec<String>,
}

struct Card {
    token: String,
    favourites: Vec<usize>,
    /// The holder's phone, computer, tablet; the first is the one used most. Some are
    /// shared with the rest of the household.
    devices: Vec<String>,
    /// Home; away from home a phone has a carrier's address.
    ip: String,
    rate: f64,
}

impl Card {
    /// The device and address of the holder's next online payment: mostly the usual
    /// ones, sometimes a new phone (kept from then on).
    fn online(&mut self, w: &mut World, d: &mut Dice) -> (String, String) {
        if d.chance(0.01) {
            let fresh = new_device(w, d);
            self.devices.insert(0, fresh);
        }
        let device = if self.devices.len() == 1 || d.chance(0.75) { self.devices[0].clone() } else { d.pick(&self.devices[1..]).clone() };
        let addr = if d.chance(0.3) { ip(d) } else { self.ip.clone() };
        (device, addr)
    }
}

struct Cl {
    merchants: Vec<Merchant>,
    by_cat: Vec<Vec<usize>>,
    popularity: Vec<f64>,
}

impl Cl {
    fn pay(
        &self,
        w: &mut World,
        d: &mut Dice,
        t: i64,
        card: &str,
        m: usize,
        amount: i64,
        device: Option<&str>,
        ip: Option<&str>,
        lab: Lab,
    ) -> Option<usize> {
        let mer = &self.merchants[m];
        let online = CATEGORIES[mer.cat].1;
        let body = Body::new("card_payment")
            .o("device", if online { device } else { None })
            .o("ip", if online { ip } else { None })
            .jpy(amount)
            .s("card", card)
            .s("merchant", mer.id.as_str())
            .s("terminal", d.pick(&mer.terminals).as_str());
        w.emit(mer.acquirer, t, body, lab)
    }

    fn amount(d: &mut Dice, cat: usize) -> i64 {
        let (_, _, median, sigma, _, _) = CATEGORIES[cat];
        let a = d.lognormal(median, sigma).clamp(100.0, 2_000_000.0);
        // Fees and gift cards come in round amounts.
        if cat == FEES || cat == GIFT { ((a / 1000.0).round() * 1000.0).max(1000.0) as i64 } else { a.round() as i64 }
    }

    fn any_merchant(&self, d: &mut Dice) -> usize {
        d.weighted(&self.popularity)
    }

    fn in_cat(&self, d: &mut Dice, cat: usize) -> usize {
        *d.pick(&self.by_cat[cat])
    }
}

pub(crate) fn run(w: &mut World, d: &mut Dice) {
    let acquirers = w.of_kind(Kind::Card);
    let total = w.scaled(250.0, 30);
    let mut merchants = Vec::new();
    let mut by_cat = vec![Vec::new(); CATEGORIES.len()];
    for (cat, (prefix, online, _, _, share, _)) in CATEGORIES.iter().enumerate() {
        let n = ((total as f64 * share).round() as usize).max(2);
        for _ in 0..n {
            let id = w.token(d, "merchant", &format!("m-{prefix}-"), 6);
            let terminals = if *online {
                vec![w.token(d, "terminal", "web-", 6)]
            } else {
                (0..d.int(1, 6)).map(|_| w.token(d, "terminal", "t-", 8)).collect()
            };
            by_cat[cat].push(merchants.len());
            merchants.push(Merchant { id, acquirer: *d.pick(&acquirers), cat, terminals });
        }
    }
    let popularity = merchants.iter().map(|m| CATEGORIES[m.cat].5 / CATEGORIES[m.cat].4).collect();
    let cl = Cl { merchants, by_cat, popularity };

    // The breach: an online merchant (a fee-payment site, like the ones GMO PG served, or
    // a shop), for some days.
    let (start, end) = (w.start, w.end);
    let len = end - start;
    let breached = if d.chance(0.7) { cl.in_cat(d, FEES) } else { cl.in_cat(d, SHOP) };
    let b_from = start + d.int(len / 20, len * 45 / 100);
    let b_to = (b_from + d.int(5, 14) * DAY).min(end);
    w.notes.push(format!(
        "card-leak: merchant {} breached from {} to {}",
        cl.merchants[breached].id,
        crate::world::format_time(b_from, false),
        crate::world::format_time(b_to, false)
    ));

    // Cards and their owners' spending.
    let n = w.scaled(3000.0, 40);
    let mut cards = Vec::with_capacity(n);
    for _ in 0..n {
        let favourites = (0..d.int(6, 15)).map(|_| cl.any_merchant(d)).collect();
        let devices = (0..d.weighted(&[0.5, 0.35, 0.15]) + 1).map(|_| new_device(w, d)).collect();
        cards.push(Card { token: w.token(d, "card", "tok_", 20), favourites, devices, ip: ip(d), rate: d.lognormal(0.7, 0.5) });
    }
    // Households: a shared computer, a family of three or four cards on one.
    let mut k = 0;
    while k + 4 < cards.len() {
        let size = if d.chance(0.2) { d.int(3, 4) as usize } else { 2 };
        if d.chance(0.25) {
            let shared = new_device(w, d);
            let home = cards[k].ip.clone();
            for c in &mut cards[k..k + size] {
                c.devices.push(shared.clone());
                c.ip = home.clone();
            }
        }
        k += size;
    }
    let mut exposed: Vec<(usize, i64)> = Vec::new();
    let mut genuine: Vec<usize> = Vec::new();
    for (ci, c) in cards.iter_mut().enumerate() {
        let mut times: Vec<(i64, usize)> = Vec::new();
        for t in World::arrivals(d, start, end, c.rate, &CONSUMER_HOURS) {
            let m = if d.chance(0.8) { *d.pick(&c.favourites) } else { cl.any_merchant(d) };
            times.push((t, m));
        }
        // The breached site is a popular one.
        if d.chance(0.12 * len as f64 / (28 * DAY) as f64)
            && let Some(t) = World::time_between(d, start, end, &CONSUMER_HOURS)
        {
            times.push((t, breached));
        }
        // A shopping trip: several shops in minutes.
        if d.chance(0.4) {
            for _ in 0..d.int(1, 2) {
                let Some(mut t) = World::time_between(d, start, end, &CONSUMER_HOURS) else { continue };
                for _ in 0..d.int(3, 6) {
                    let cat = d.weighted(&[3.0, 2.0, 2.0, 2.0]);
                    times.push((t, cl.in_cat(d, CONV + cat)));
                    t += d.int(2 * MINUTE, 10 * MINUTE);
                }
            }
        }
        times.sort_unstable();
        for (t, m) in times {
            let amount = Cl::amount(d, cl.merchants[m].cat);
            let in_breach = m == breached && (b_from..b_to).contains(&t);
            let step = if in_breach { "exposed-payment" } else { "card-payment" };
            let (device, addr) = c.online(w, d);
            let e = cl.pay(w, d, t, &c.token, m, amount, Some(&device), Some(&addr), Lab::honest(SC, step, amount));
            if let Some(e) = e {
                if in_breach {
                    exposed.push((ci, t));
                } else if d.chance(0.01) && t < end - 3 * DAY {
                    genuine.push(e);
                }
            }
        }
    }

    // Honest reports: genuine payments the owner does not recognise.
    let disputes = w.scaled(8.0, 2);
    for k in d.sample(genuine.len(), disputes) {
        let e = genuine[k];
        let (inst, t) = (w.drafts[e].inst, w.drafts[e].time);
        // Reported days later, within the simulated period.
        let tr = t + d.int(2 * DAY, (25 * DAY).min(end - 1 - t));
        w.report(inst, tr, "customer", &[Some(e)], Lab::honest(SC, "fraud-report", 0));
    }

    // The leaked cards, sold in batches and used.
    exposed.sort_unstable();
    exposed.dedup_by_key(|x| x.0);
    // Groups buying the cards: their devices, addresses and way of using a card (0 tests
    // then purchases, 1 a little every few days, 2 a burst within minutes).
    let groups: Vec<(Vec<String>, Vec<String>, usize)> = (0..d.int(2, 4))
        .map(|_| ((0..d.int(1, 3)).map(|_| new_device(w, d)).collect(), (0..d.int(2, 6)).map(|_| ip(d)).collect(), d.below(3)))
        .collect();
    let mut unsold: Vec<(usize, i64)> = exposed.clone();
    d.shuffle(&mut unsold);
    let share = d.real(0.3, 0.6);
    let to_sell = (exposed.len() as f64 * share).round() as usize;
    let batches = d.int(1, 3) as usize;
    let mut chain_no = 0;
    let mut sold = 0;
    for b in 0..batches {
        // Days after the breach began, within what is left of the window.
        let room = end - b_from;
        let sale = b_from + d.int((3 * DAY).min(room / 4), (20 * DAY).min(room * 3 / 4));
        let quota = if b + 1 == batches { to_sell - sold } else { to_sell / batches };
        let mut batch = Vec::new();
        let mut keep = Vec::new();
        for (ci, te) in unsold.drain(..) {
            if batch.len() < quota && te < sale { batch.push(ci) } else { keep.push((ci, te)) }
        }
        unsold = keep;
        sold += batch.len();
        for ci in batch {
            chain_no += 1;
            let chain = format!("cl-{chain_no:04}");
            let (devices, ips, style) = d.pick(&groups).clone();
            let t0 = sale + d.int(0, 72 * HOUR);
            use_card(w, d, &cl, &cards[ci].token, &chain, t0, &devices, &ips, style);
        }
    }
    w.notes.push(format!("card-leak: {} cards exposed, {chain_no} used fraudulently (cl-NNNN)", exposed.len()));
}

/// A leaked card used online in the group's way, until the owner reports it.
fn use_card(w: &mut World, d: &mut Dice, cl: &Cl, card: &str, chain: &str, t0: i64, devices: &[String], ips: &[String], style: usize) {
    let mut plan: Vec<(i64, usize, i64)> = Vec::new();
    let mut t = t0;
    if style == 2 {
        // A burst: small tests and purchases at several shops within minutes.
        for k in 0..d.int(5, 9) {
            let cat = if k < 2 { DIGITAL } else { [ELEC, GIFT, SHOP, DIGITAL][d.weighted(&[0.3, 0.3, 0.3, 0.1])] };
            let amount = if k < 2 { d.int(1, 10) * 100 } else { (d.lognormal(20_000.0, 0.8).clamp(1_000.0, 200_000.0)) as i64 };
            plan.push((t, cl.in_cat(d, cat), amount));
            t += d.int(15, 3 * MINUTE);
        }
    } else if style == 0 {
        for _ in 0..d.int(1, 3) {
            plan.push((t, cl.in_cat(d, DIGITAL), d.int(1, 10) * 100));
            t += d.int(MINUTE, 10 * MINUTE);
        }
        for _ in 0..d.int(1, 4) {
            let cat = [ELEC, GIFT, TRAVEL, SHOP][d.weighted(&[0.4, 0.3, 0.1, 0.2])];
            let amount = (d.lognormal(40_000.0, 0.7).clamp(5_000.0, 300_000.0)) as i64;
            plan.push((t, cl.in_cat(d, cat), if cat == GIFT { (amount / 1000).max(1) * 1000 } else { amount }));
            t += d.int(2 * MINUTE, 30 * MINUTE);
        }
    } else {
        for _ in 0..d.int(2, 4) {
            let cat = [SHOP, ELEC, DIGITAL, GIFT][d.weighted(&[0.5, 0.2, 0.2, 0.1])];
            plan.push((t, cl.in_cat(d, cat), (d.lognormal(15_000.0, 0.6).clamp(1_000.0, 100_000.0)) as i64));
            t += d.int(DAY, 3 * DAY) + d.int(-3 * HOUR, 3 * HOUR);
        }
    }
    // The owner notices (or the issuer calls); the card is stopped then.
    let report_at = d.chance(0.75).then(|| t0 + d.int(DAY, 20 * DAY));
    let device = d.pick(devices).clone();
    let mut by_acquirer: Vec<(usize, Vec<Option<usize>>)> = Vec::new();
    for (tp, m, amount) in plan {
        if report_at.is_some_and(|r| tp >= r) {
            break;
        }
        let addr = if d.chance(0.3) { ip(d) } else { d.pick(ips).clone() };
        let e = cl.pay(w, d, tp, card, m, amount, Some(&device), Some(&addr), Lab::fraud(SC, chain, "card-payment", amount));
        let acq = cl.merchants[m].acquirer;
        match by_acquirer.iter_mut().find(|x| x.0 == acq) {
            Some(x) => x.1.push(e),
            None => by_acquirer.push((acq, vec![e])),
        }
    }
    if let Some(tr) = report_at {
        for (acq, events) in by_acquirer {
            let source = if d.chance(0.8) { "customer" } else { "institution" };
            w.report(acq, tr + d.int(0, 2 * HOUR), source, &events, Lab::fraud(SC, chain, "fraud-report", 0));
        }
    }
}
