//! Takeover, then cash out (SBI Securities, 2020).
//!
//! Waves of failed logins from a few addresses across many broker accounts; the few
//! whose password was reused elsewhere open from a new device. Days later a bank account
//! is opened in the victim's own name with a forged ID, registered as the broker
//! account's payee, the holdings sold and most of the proceeds withdrawn there. Around
//! them: new phones, forgotten passwords, long-held accounts at other banks registered
//! as new payees, freshly opened accounts registered by their real owners, large sales
//! withdrawn to long-known payees.

use serde_json::Value as Json;

use crate::dice::Dice;
use crate::people::{Person, birth_year, holder, ip, new_device, new_email, new_phone, person};
use crate::world::{Body, CONSUMER_HOURS, DAY, HOUR, Lab, MINUTE, World, market_open, reference};
use crate::{Kind, Scenario};

const SC: Scenario = Scenario::Takeover;

/// Listed stocks (code, a typical price in JPY).
const STOCKS: &[(&str, i64)] = &[
    ("7203", 2_800),
    ("6758", 3_300),
    ("9984", 8_500),
    ("8306", 1_500),
    ("9432", 160),
    ("6861", 60_000),
    ("4063", 5_000),
    ("8035", 30_000),
    ("7974", 9_000),
    ("6098", 8_000),
    ("9983", 45_000),
    ("4502", 4_200),
    ("8058", 3_000),
    ("8001", 7_000),
    ("6501", 3_500),
    ("7267", 1_600),
    ("4519", 6_000),
    ("6367", 23_000),
    ("9433", 4_300),
    ("2914", 4_200),
];

const METHODS: [&str; 4] = ["password", "otp", "passkey", "sms"];

struct Broker {
    inst: usize,
    id: String,
    /// Weights of the login methods its customers use.
    methods: [f64; 4],
    /// Writes payee names half-width, as banks store them.
    half: bool,
}

struct Bank {
    inst: usize,
    id: String,
}

struct Account {
    p: Person,
    broker: usize,
    cust: String,
    acct: String,
    method: &'static str,
    device: String,
    ip: String,
    /// The bank account withdrawals go to: (bank index, account id).
    payee: (usize, String),
    holdings: i64,
    cash: i64,
    /// Logins a day.
    rate: f64,
    /// The password is also in someone's list of leaked credentials.
    reused: bool,
}

struct Tk {
    brokers: Vec<Broker>,
    banks: Vec<Bank>,
    mobile_ips: Vec<String>,
}

impl Tk {
    fn inst(&self, a: &Account) -> usize {
        self.brokers[a.broker].inst
    }

    fn login(&self, w: &mut World, t: i64, a: &Account, ok: bool, method: &str, device: Option<&str>, ip: &str, lab: Lab) -> Option<usize> {
        let body = Body::new("login")
            .s("customer", a.cust.as_str())
            .s("account", a.acct.as_str())
            .o("device", device)
            .s("ip", ip)
            .v("success", Json::Bool(ok))
            .s("method", method);
        w.emit(self.inst(a), t, body, lab)
    }

    fn credential(&self, w: &mut World, t: i64, a: &Account, what: &str, device: &str, ip: &str, lab: Lab) -> Option<usize> {
        let body = Body::new("credential_changed")
            .s("customer", a.cust.as_str())
            .s("account", a.acct.as_str())
            .s("device", device)
            .s("ip", ip)
            .s("what", what);
        w.emit(self.inst(a), t, body, lab)
    }

    fn payee(&self, w: &mut World, t: i64, a: &Account, bank: usize, acct: &str, device: &str, ip: &str, lab: Lab) -> Option<usize> {
        let h = holder(&a.p, self.brokers[a.broker].half, false, false, None, None);
        let body = Body::new("payee_registered")
            .s("customer", a.cust.as_str())
            .s("account", a.acct.as_str())
            .s("device", device)
            .s("ip", ip)
            .v("payee", reference(&self.banks[bank].id, acct))
            .v("holder", h);
        w.emit(self.inst(a), t, body, lab)
    }

    /// A trade of about `target` JPY of one stock (at least one lot of 100 shares).
    fn trade(
        &self,
        w: &mut World,
        d: &mut Dice,
        t: i64,
        a: &Account,
        side: &str,
        target: i64,
        lab: impl FnOnce(i64) -> Lab,
    ) -> (Option<usize>, i64) {
        // A stock whose lot (100 shares) fits the amount, or the cheapest.
        let fits: Vec<&(&str, i64)> = STOCKS.iter().filter(|s| s.1 * 100 <= target).collect();
        let (code, typical) = if fits.is_empty() { *STOCKS.iter().min_by_key(|s| s.1).unwrap_or(&STOCKS[0]) } else { **d.pick(&fits) };
        let price = (typical as f64 * d.real(0.93, 1.07)).round().max(1.0) as i64;
        let lots = (target / (price * 100)).max(1);
        let quantity = lots * 100;
        let amount = price * quantity;
        let body = Body::new("trade")
            .s("customer", a.cust.as_str())
            .s("account", a.acct.as_str())
            .jpy(amount)
            .s("side", side)
            .s("instrument", code)
            .s("quantity", quantity.to_string());
        (w.emit(self.inst(a), t, body, lab(amount)), amount)
    }

    fn withdraw(&self, w: &mut World, t: i64, a: &Account, bank: usize, acct: &str, amount: i64, lab: Lab) -> Option<usize> {
        let body = Body::new("withdrawal")
            .s("customer", a.cust.as_str())
            .s("account", a.acct.as_str())
            .jpy(amount)
            .v("payee", reference(&self.banks[bank].id, acct));
        w.emit(self.inst(a), t, body, lab)
    }

    /// A bank account opened in `p`'s name.
    fn open_bank_account(
        &self,
        w: &mut World,
        d: &mut Dice,
        t: i64,
        bank: usize,
        p: &Person,
        kyc: &str,
        phone: &str,
        email: &str,
        device: &str,
        ip: &str,
        lab: Lab,
    ) -> (String, Option<usize>) {
        let bid = self.banks[bank].id.clone();
        let cust = w.unique(d, &format!("{bid}/customer"), |d| format!("C{}", d.digits(10)));
        let acct = w.unique(d, &format!("{bid}/account"), |d| format!("{:03}-{}", d.int(1, 399), d.digits(7)));
        let body = Body::new("account_opened")
            .s("customer", cust)
            .s("account", acct.as_str())
            .s("device", device)
            .s("ip", ip)
            .s("kyc", kyc)
            .v("holder", holder(p, false, true, true, Some(phone), Some(email)));
        let e = w.emit(self.banks[bank].inst, t, body, lab);
        (acct, e)
    }

    fn new_bank_account_id(&self, w: &mut World, d: &mut Dice, bank: usize) -> String {
        let bid = self.banks[bank].id.clone();
        w.unique(d, &format!("{bid}/account"), |d| format!("{:03}-{}", d.int(1, 399), d.digits(7)))
    }

    fn session_ip(&self, d: &mut Dice, a: &Account) -> String {
        if d.chance(0.35) { d.pick(&self.mobile_ips).clone() } else { a.ip.clone() }
    }
}

pub(crate) fn run(w: &mut World, d: &mut Dice) {
    let mut broker_insts = w.of_kind(Kind::Broker);
    d.shuffle(&mut broker_insts);
    let brokers: Vec<Broker> = broker_insts
        .iter()
        .enumerate()
        .map(|(k, &inst)| Broker {
            inst,
            id: w.inst_id(inst).to_string(),
            // The first relies on passwords (as brokers did in 2020), the other less so.
            methods: if k == 0 { [0.85, 0.08, 0.02, 0.05] } else { [0.40, 0.35, 0.15, 0.10] },
            half: d.chance(0.5),
        })
        .collect();
    let banks: Vec<Bank> = w.of_kind(Kind::Bank).into_iter().map(|inst| Bank { inst, id: w.inst_id(inst).to_string() }).collect();
    let mobile_ips = (0..w.scaled(150.0, 8)).map(|_| ip(d)).collect();
    let tk = Tk { brokers, banks, mobile_ips };

    let n = w.scaled(3000.0, 40);
    let mut accounts = Vec::with_capacity(n);
    for _ in 0..n {
        let year = birth_year(d);
        let p = person(w, d, year);
        let broker = if d.chance(0.55) { 0 } else { 1 };
        let bid = tk.brokers[broker].id.clone();
        let cust = w.unique(d, &format!("{bid}/customer"), |d| format!("K{}", d.digits(8)));
        let acct = w.unique(d, &format!("{bid}/account"), |d| format!("{}-{}", d.digits(3), d.digits(6)));
        let method = METHODS[d.weighted(&tk.brokers[broker].methods)];
        let bank = d.below(tk.banks.len());
        let payee = (bank, tk.new_bank_account_id(w, d, bank));
        accounts.push(Account {
            p,
            broker,
            cust,
            acct,
            method,
            device: new_device(w, d),
            ip: ip(d),
            payee,
            holdings: (d.lognormal(1_500_000.0, 1.2) as i64).clamp(50_000, 200_000_000),
            cash: (d.lognormal(200_000.0, 1.0) as i64).clamp(0, 20_000_000),
            rate: d.lognormal(0.35, 0.8).min(5.0),
            reused: d.chance(0.05),
        });
    }

    for a in &mut accounts {
        honest(w, d, &tk, a);
    }
    background_openings(w, d, &tk);
    fraud(w, d, &tk, &mut accounts);
}

/// A customer's own activity over the window.
fn honest(w: &mut World, d: &mut Dice, tk: &Tk, a: &mut Account) {
    let (start, end) = (w.start, w.end);
    let new_phone_at = d.chance(0.06).then(|| d.int(start, end));
    let new_device_id = new_device(w, d);
    let email_change = d.chance(0.015).then(|| d.int(start, end));
    let liquidation = (a.holdings >= 800_000 && d.chance(0.03)).then(|| market_open(d.int(start, end)));
    // A new payee: a long-held account at another bank, or one just opened.
    let new_payee = d.chance(0.04).then(|| (d.int(start + DAY, end), d.chance(0.3)));
    let mut sessions = World::arrivals(d, start, end, a.rate, &CONSUMER_HOURS);
    // Traders log in during market hours more.
    for t in sessions.iter_mut() {
        if a.rate > 1.0 && d.chance(0.5) {
            *t = market_open(*t);
        }
    }
    sessions.sort_unstable();
    let mut pending_payee: Option<(i64, (usize, String))> = None;
    let mut liquidated = false;
    let mut i = 0;
    let old_device = a.device.clone();
    let device_at = |t: i64| if new_phone_at.is_some_and(|n| t >= n) { new_device_id.clone() } else { old_device.clone() };

    // Scheduled moments become sessions of their own.
    let mut extra: Vec<i64> = [email_change, liquidation, new_payee.map(|x| x.0)].into_iter().flatten().collect();
    sessions.append(&mut extra);
    sessions.sort_unstable();

    while i < sessions.len() {
        let t = sessions[i];
        i += 1;
        let device = device_at(t);
        let addr = tk.session_ip(d, a);
        // Some apps and old browsers send no fingerprint.
        let fingerprint = (!d.chance(0.08)).then_some(device.as_str());
        // Forgotten passwords: a few failures, sometimes a reset, then in.
        if d.chance(0.03) {
            let k = d.int(1, 3);
            let mut tf = t - d.int(1, 5) * MINUTE;
            for _ in 0..k {
                tk.login(w, tf, a, false, "password", fingerprint, &addr, Lab::honest(SC, "failed-login", 0));
                tf += d.int(10, 90);
            }
            if k >= 2 && d.chance(0.4) {
                tk.credential(w, t - 30, a, "password", &device, &addr, Lab::honest(SC, "credential-change", 0));
            }
        }
        tk.login(w, t, a, true, a.method, fingerprint, &addr, Lab::honest(SC, "login", 0));
        if new_phone_at.is_some_and(|n| t >= n) && d.chance(0.05) {
            tk.credential(w, t + d.int(20, 300), a, "device", &device, &addr, Lab::honest(SC, "credential-change", 0));
        }
        if Some(t) == email_change {
            tk.credential(w, t + d.int(30, 600), a, "email", &device, &addr, Lab::honest(SC, "credential-change", 0));
        }
        // A new payee, and later a withdrawal to it.
        if let Some((tr, fresh)) = new_payee
            && t == tr
        {
            let bank = (a.payee.0 + 1 + d.below(tk.banks.len().max(2) - 1)) % tk.banks.len();
            let acct = if fresh {
                let topen = tr - d.int(DAY, 20 * DAY);
                let kyc = ["photo_id", "ic_chip", "in_person", "mail"][d.weighted(&[0.45, 0.40, 0.05, 0.10])];
                let (acct, _) = tk.open_bank_account(
                    w,
                    d,
                    topen,
                    bank,
                    &a.p,
                    kyc,
                    &a.p.phone,
                    &a.p.email,
                    &a.device,
                    &a.ip,
                    Lab::honest(SC, "open-account", 0),
                );
                acct
            } else {
                tk.new_bank_account_id(w, d, bank)
            };
            tk.payee(w, t + d.int(60, 600), a, bank, &acct, &device, &addr, Lab::honest(SC, "payee", 0));
            let wait = match d.weighted(&[0.6, 0.3, 0.1]) {
                0 => d.int(3 * DAY, 30 * DAY),
                1 => d.int(DAY, 3 * DAY),
                _ => d.int(HOUR, 12 * HOUR),
            };
            pending_payee = Some((t + wait, (bank, acct)));
            if d.chance(0.5) {
                a.cash += (d.lognormal(500_000.0, 0.8) as i64).min(a.holdings);
            }
        }
        if let Some((due, payee)) = pending_payee.clone()
            && t >= due
        {
            let amount = ((a.cash as f64 * d.real(0.5, 1.0)) as i64).max(10_000);
            tk.withdraw(w, t + d.int(60, 900), a, payee.0, &payee.1, amount, Lab::honest(SC, "withdrawal", amount));
            a.cash = (a.cash - amount).max(0);
            a.payee = payee;
            pending_payee = None;
        }
        // Selling most of it (a house, a tuition bill) and withdrawing to the usual account.
        if Some(t) == liquidation && !liquidated {
            liquidated = true;
            let target = (a.holdings as f64 * d.real(0.5, 1.0)) as i64;
            let mut sold = 0;
            let mut ts = t;
            let sells = d.int(1, 3);
            for k in 0..sells {
                let want = (target - sold) / (sells - k);
                if want < 10_000 {
                    break;
                }
                ts = market_open(ts + d.int(MINUTE, 20 * MINUTE));
                let (_, amount) = tk.trade(w, d, ts, a, "sell", want, |v| Lab::honest(SC, "sell", v));
                sold += amount;
            }
            a.holdings = (a.holdings - sold).max(0);
            let total = (sold as f64 * d.real(0.8, 1.0)) as i64;
            let mut tw = ts + if d.chance(0.4) { d.int(10 * MINUTE, 3 * HOUR) } else { d.int(DAY, 3 * DAY) };
            let pieces = d.int(1, 2);
            for k in 0..pieces {
                let amount = if k + 1 == pieces { total - total / pieces * k } else { total / pieces };
                if amount > 0 {
                    let (bank, acct) = a.payee.clone();
                    tk.withdraw(w, tw, a, bank, &acct, amount, Lab::honest(SC, "withdrawal", amount));
                }
                tw += d.int(5 * MINUTE, HOUR);
            }
            continue;
        }
        // Everyday trading and an occasional withdrawal to the usual account.
        if market_open(t) == t && d.chance(0.45) {
            let sell = a.holdings > 100_000 && d.chance(0.45);
            let target = (d.lognormal(300_000.0, 1.0) as i64).clamp(20_000, if sell { a.holdings / 2 } else { 10_000_000 });
            let tt = market_open(t + d.int(30, 900));
            let (_, amount) =
                tk.trade(w, d, tt, a, if sell { "sell" } else { "buy" }, target, |v| Lab::honest(SC, if sell { "sell" } else { "buy" }, v));
            if sell {
                a.holdings -= amount;
                a.cash += amount;
            } else {
                a.holdings += amount;
            }
        }
        if a.cash >= 10_000 && d.chance(0.05) {
            let amount = ((a.cash as f64 * d.real(0.2, 1.0)) as i64 / 1000 * 1000).max(1000);
            let (bank, acct) = a.payee.clone();
            tk.withdraw(w, t + d.int(60, 1200), a, bank, &acct, amount, Lab::honest(SC, "withdrawal", amount));
            a.cash -= amount;
        }
    }
}

/// Bank accounts opened by people who never show up at a broker.
fn background_openings(w: &mut World, d: &mut Dice, tk: &Tk) {
    let n = w.scaled(90.0, 3);
    for _ in 0..n {
        let year = birth_year(d);
        let p = person(w, d, year);
        let Some(t) = World::time_between(d, w.start, w.end, &CONSUMER_HOURS) else { continue };
        let bank = d.below(tk.banks.len());
        let kyc = ["photo_id", "ic_chip", "in_person", "mail"][d.weighted(&[0.45, 0.40, 0.05, 0.10])];
        let device = new_device(w, d);
        let (phone, email) = (p.phone.clone(), p.email.clone());
        let addr = ip(d);
        tk.open_bank_account(w, d, t, bank, &p, kyc, &phone, &email, &device, &addr, Lab::honest(SC, "open-account", 0));
    }
}

fn fraud(w: &mut World, d: &mut Dice, tk: &Tk, accounts: &mut [Account]) {
    let base = w.scaled(3.0, 2) as i64;
    let waves = d.int((base - 1).max(2), base + 1);
    let (start, end) = (w.start, w.end);
    let len = end - start;
    let mut compromised = vec![false; accounts.len()];
    let mut victim_no = 0;
    let mut cashed = 0;
    for wave in 1..=waves {
        let chain_wave = format!("tk-wave-{wave:02}");
        let broker = if d.chance(0.8) { 0 } else { 1 };
        let ips: Vec<String> = (0..d.int(2, 6)).map(|_| ip(d)).collect();
        let bots: Vec<String> = (0..20).map(|_| new_device(w, d)).collect();
        let duration = d.int(HOUR, 8 * HOUR);
        // Mostly early enough for the cash-out to happen within the window.
        let latest = if d.chance(0.75) { len - 12 * DAY } else { len - duration };
        let t0 = start + d.int(len / 10, latest.max(len / 10 + 1));
        let candidates: Vec<usize> = (0..accounts.len()).filter(|&i| accounts[i].broker == broker && !compromised[i]).collect();
        let k = (candidates.len() as f64 * d.real(0.25, 0.6)) as usize;
        for pick in d.sample(candidates.len(), k) {
            let i = candidates[pick];
            let a = &accounts[i];
            let hit = a.reused && a.method == "password";
            let chain = if hit {
                victim_no += 1;
                format!("tk-{victim_no:04}")
            } else {
                chain_wave.clone()
            };
            let attempts = if d.chance(0.8) { 1 } else { 2 };
            let mut t = t0 + d.int(0, duration);
            for n in 0..attempts {
                let addr = d.pick(&ips).clone();
                let dev = d.chance(0.5).then(|| d.pick(&bots).clone());
                let last = n + 1 == attempts;
                if hit && last {
                    let dev = dev.unwrap_or_else(|| d.pick(&bots).clone());
                    tk.login(w, t, a, true, "password", Some(&dev), &addr, Lab::fraud(SC, &chain, "login", 0));
                } else {
                    tk.login(w, t, a, false, "password", dev.as_deref(), &addr, Lab::fraud(SC, &chain, "failed-login", 0));
                }
                t += d.int(2, 40);
            }
            if hit {
                compromised[i] = true;
                if a.holdings >= 300_000 && d.chance(0.75) {
                    cashed += 1;
                    cash_out(w, d, tk, &mut accounts[i], &chain, t, &bots);
                }
            }
        }
    }
    w.notes.push(format!("takeover: {waves} credential-stuffing waves (tk-wave-NN), {victim_no} accounts taken over, {cashed} cashed out"));
}

/// From a taken-over account: a same-name bank account with a forged ID, a new payee,
/// the holdings sold, the proceeds withdrawn.
fn cash_out(w: &mut World, d: &mut Dice, tk: &Tk, a: &mut Account, chain: &str, t_in: i64, bots: &[String]) {
    let lab = |step| Lab::fraud(SC, chain, step, 0);
    let gang_device = d.pick(bots).clone();
    let gang_ip = ip(d);
    let phone = new_phone(w, d);
    let email = new_email(w, d);
    let bank = d.below(tk.banks.len());
    let t_open = t_in + d.int(DAY, 5 * DAY);
    let (acct, opened) =
        tk.open_bank_account(w, d, t_open, bank, &a.p, "photo_id", &phone, &email, &gang_device, &gang_ip, lab("open-account"));
    if opened.is_none() {
        return;
    }
    let t = market_open(t_open + d.int(2 * DAY, 7 * DAY) + d.int(0, 6 * HOUR));
    let device = if d.chance(0.5) { gang_device.clone() } else { new_device(w, d) };
    let addr = ip(d);
    let mut reported = Vec::new();
    let mut tl = t - d.int(2 * MINUTE, 20 * MINUTE);
    tk.login(w, tl, a, true, "password", Some(&device), &addr, lab("login"));
    if d.chance(0.6) {
        tl += d.int(30, 180);
        tk.credential(w, tl, a, "email", &device, &addr, lab("credential-change"));
    }
    if d.chance(0.2) {
        tl += d.int(30, 180);
        tk.credential(w, tl, a, "password", &device, &addr, lab("credential-change"));
    }
    let tp = tl + d.int(2 * MINUTE, 10 * MINUTE);
    reported.push(tk.payee(w, tp, a, bank, &acct, &device, &addr, lab("payee")));
    let target = (a.holdings as f64 * d.real(0.5, 0.95)) as i64;
    let sells = d.int(1, 3);
    let mut ts = tp;
    let mut sold = 0;
    for k in 0..sells {
        ts = market_open(ts + d.int(MINUTE, 20 * MINUTE));
        let want = (target - sold) / (sells - k);
        if want < 10_000 {
            break;
        }
        let (e, amount) = tk.trade(w, d, ts, a, "sell", want, |v| Lab::fraud(SC, chain, "sell", v));
        reported.push(e);
        sold += amount;
    }
    a.holdings = (a.holdings - sold).max(0);
    let total = (sold as f64 * d.real(0.8, 1.0)) as i64;
    let mut tw = ts + if d.chance(0.5) { d.int(5 * MINUTE, 2 * HOUR) } else { d.int(DAY, 3 * DAY) };
    let pieces = d.int(1, 3);
    for k in 0..pieces {
        let amount = if k + 1 == pieces { total - total / pieces * k } else { total / pieces };
        if amount > 0 {
            reported.push(tk.withdraw(w, tw, a, bank, &acct, amount, Lab::fraud(SC, chain, "withdrawal", amount)));
        }
        tw += d.int(5 * MINUTE, HOUR);
    }
    if d.chance(0.7) {
        let tr = tw + d.int(DAY, 10 * DAY);
        w.report(tk.brokers[a.broker].inst, tr, "customer", &reported, lab("fraud-report"));
    }
}
