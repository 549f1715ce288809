//! People, their names (kanji and katakana), birth dates, phones, e-mail addresses,
//! devices and addresses on the network. Honest customers and criminals draw from the
//! same generators, so the format of an id never tells one from the other.

use serde_json::{Map, Value as Json};

use crate::dice::Dice;
use crate::world::World;

/// Family names: kanji, katakana, romaji.
const FAMILY: &[(&str, &str, &str)] = &[
    ("佐藤", "サトウ", "sato"),
    ("鈴木", "スズキ", "suzuki"),
    ("高橋", "タカハシ", "takahashi"),
    ("田中", "タナカ", "tanaka"),
    ("伊藤", "イトウ", "ito"),
    ("渡辺", "ワタナベ", "watanabe"),
    ("山本", "ヤマモト", "yamamoto"),
    ("中村", "ナカムラ", "nakamura"),
    ("小林", "コバヤシ", "kobayashi"),
    ("加藤", "カトウ", "kato"),
    ("吉田", "ヨシダ", "yoshida"),
    ("山田", "ヤマダ", "yamada"),
    ("佐々木", "ササキ", "sasaki"),
    ("山口", "ヤマグチ", "yamaguchi"),
    ("松本", "マツモト", "matsumoto"),
    ("井上", "イノウエ", "inoue"),
    ("木村", "キムラ", "kimura"),
    ("林", "ハヤシ", "hayashi"),
    ("斎藤", "サイトウ", "saito"),
    ("清水", "シミズ", "shimizu"),
    ("山崎", "ヤマザキ", "yamazaki"),
    ("森", "モリ", "mori"),
    ("池田", "イケダ", "ikeda"),
    ("橋本", "ハシモト", "hashimoto"),
    ("阿部", "アベ", "abe"),
    ("石川", "イシカワ", "ishikawa"),
    ("山下", "ヤマシタ", "yamashita"),
    ("中島", "ナカジマ", "nakajima"),
    ("石井", "イシイ", "ishii"),
    ("小川", "オガワ", "ogawa"),
    ("前田", "マエダ", "maeda"),
    ("岡田", "オカダ", "okada"),
    ("長谷川", "ハセガワ", "hasegawa"),
    ("藤田", "フジタ", "fujita"),
    ("後藤", "ゴトウ", "goto"),
    ("近藤", "コンドウ", "kondo"),
    ("村上", "ムラカミ", "murakami"),
    ("遠藤", "エンドウ", "endo"),
    ("青木", "アオキ", "aoki"),
    ("坂本", "サカモト", "sakamoto"),
];

/// Given names: kanji, katakana, romaji, and the era they suit (0 any, 1 born before
/// 1965, 2 born after 1975).
const GIVEN: &[(&str, &str, &str, u8)] = &[
    ("太郎", "タロウ", "taro", 0),
    ("一郎", "イチロウ", "ichiro", 1),
    ("健一", "ケンイチ", "kenichi", 0),
    ("誠", "マコト", "makoto", 0),
    ("浩", "ヒロシ", "hiroshi", 1),
    ("茂", "シゲル", "shigeru", 1),
    ("勇", "イサム", "isamu", 1),
    ("清", "キヨシ", "kiyoshi", 1),
    ("隆", "タカシ", "takashi", 0),
    ("大輔", "ダイスケ", "daisuke", 2),
    ("翔太", "ショウタ", "shota", 2),
    ("健太", "ケンタ", "kenta", 2),
    ("拓也", "タクヤ", "takuya", 2),
    ("直樹", "ナオキ", "naoki", 0),
    ("和夫", "カズオ", "kazuo", 1),
    ("正男", "マサオ", "masao", 1),
    ("義男", "ヨシオ", "yoshio", 1),
    ("秀樹", "ヒデキ", "hideki", 0),
    ("大翔", "ヒロト", "hiroto", 2),
    ("蓮", "レン", "ren", 2),
    ("悠真", "ユウマ", "yuma", 2),
    ("修", "オサム", "osamu", 1),
    ("進", "ススム", "susumu", 1),
    ("昭", "アキラ", "akira", 1),
    ("花子", "ハナコ", "hanako", 1),
    ("幸子", "サチコ", "sachiko", 1),
    ("洋子", "ヨウコ", "yoko", 1),
    ("恵子", "ケイコ", "keiko", 1),
    ("和子", "カズコ", "kazuko", 1),
    ("京子", "キョウコ", "kyoko", 1),
    ("節子", "セツコ", "setsuko", 1),
    ("文子", "フミコ", "fumiko", 1),
    ("美智子", "ミチコ", "michiko", 1),
    ("久美子", "クミコ", "kumiko", 0),
    ("由美", "ユミ", "yumi", 0),
    ("直美", "ナオミ", "naomi", 0),
    ("愛", "アイ", "ai", 2),
    ("舞", "マイ", "mai", 2),
    ("陽菜", "ヒナ", "hina", 2),
    ("結衣", "ユイ", "yui", 2),
    ("美咲", "ミサキ", "misaki", 2),
    ("さくら", "サクラ", "sakura", 2),
    ("千代", "チヨ", "chiyo", 1),
    ("静香", "シズカ", "shizuka", 0),
    ("智子", "トモコ", "tomoko", 0),
    ("真由美", "マユミ", "mayumi", 0),
    ("明美", "アケミ", "akemi", 0),
    ("芳子", "ヨシコ", "yoshiko", 1),
    ("葵", "アオイ", "aoi", 2),
];

const MAIL_DOMAINS: &[&str] = &["example.jp", "example.com", "example.net", "mail.example.jp", "docomo.example.ne.jp"];

/// First octets of the IPv4 addresses handed out (the ranges Japanese providers mostly use).
const IPV4_FIRST: &[u8] = &[
    27, 36, 42, 49, 58, 59, 60, 61, 101, 106, 110, 111, 112, 113, 114, 115, 116, 118, 119, 121, 122, 123, 124, 125, 126, 133, 153, 175,
    180, 182, 183, 202, 210, 211, 218, 219, 220, 221, 222,
];

/// A person as institutions know them.
#[derive(Debug, Clone)]
pub(crate) struct Person {
    /// Full-width katakana, family name first, one ASCII space.
    pub kana: String,
    pub kanji: String,
    /// `YYYY-MM-DD`.
    pub birth: String,
    pub birth_year: i64,
    pub phone: String,
    pub email: String,
}

/// A birth year of the adult population (1932-2006), weighted like Japan's.
pub(crate) fn birth_year(d: &mut Dice) -> i64 {
    let decades: [(i64, f64); 8] =
        [(1932, 5.0), (1940, 10.0), (1950, 13.0), (1960, 15.0), (1970, 17.0), (1980, 15.0), (1990, 14.0), (2000, 8.0)];
    let w: Vec<f64> = decades.iter().map(|x| x.1).collect();
    let (from, _) = decades[d.weighted(&w)];
    let span = if from == 1932 {
        7
    } else if from == 2000 {
        6
    } else {
        9
    };
    from + d.int(0, span)
}

/// A new person born in `year`, with a phone and an e-mail address no one else has.
pub(crate) fn person(w: &mut World, d: &mut Dice, year: i64) -> Person {
    let (fk, fkana, froma) = *d.pick(FAMILY);
    let era = if year < 1965 {
        1
    } else if year > 1975 {
        2
    } else {
        0
    };
    let givens: Vec<&(&str, &str, &str, u8)> = GIVEN.iter().filter(|g| g.3 == 0 || g.3 == era).collect();
    let (gk, gkana, groma, _) = **d.pick(&givens);
    let month = d.int(1, 12);
    let days_in = match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    let day = d.int(1, days_in);
    let phone = new_phone(w, d);
    let email = w.unique(d, "email", |d| {
        let local = match d.below(4) {
            0 => format!("{groma}.{froma}"),
            1 => format!("{groma}{}", year % 100),
            2 => format!("{}{froma}{}", &groma[..1], d.digits(2)),
            _ => format!("{froma}-{}", d.base36(4)),
        };
        format!("{local}@{}", d.pick(MAIL_DOMAINS))
    });
    Person {
        kana: format!("{fkana} {gkana}"),
        kanji: format!("{fk} {gk}"),
        birth: format!("{year:04}-{month:02}-{day:02}"),
        birth_year: year,
        phone,
        email,
    }
}

/// A Japanese mobile number no one else has, E.164.
pub(crate) fn new_phone(w: &mut World, d: &mut Dice) -> String {
    w.unique(d, "phone", |d| format!("+81{}{}", d.pick(&["90", "80", "70"]), d.digits(8)))
}

/// An e-mail address of a made-up mailbox (criminals' throwaway addresses look the same).
pub(crate) fn new_email(w: &mut World, d: &mut Dice) -> String {
    w.unique(d, "email", |d| format!("{}{}@{}", d.base36(6), d.digits(2), d.pick(MAIL_DOMAINS)))
}

/// A device fingerprint no one else has.
pub(crate) fn new_device(w: &mut World, d: &mut Dice) -> String {
    w.unique(d, "device", |d| d.hex(16))
}

/// An address on the internet: mostly IPv4, some IPv6.
pub(crate) fn ip(d: &mut Dice) -> String {
    if d.chance(0.1) {
        format!("2400:{:x}:{:x}:{:x}::{:x}", d.int(0x1000, 0xffff), d.int(0, 0xffff), d.int(1, 0xffff), d.int(1, 0xffff))
    } else {
        format!("{}.{}.{}.{}", d.pick(IPV4_FIRST), d.int(0, 255), d.int(0, 255), d.int(1, 254))
    }
}

/// A holder object: the person's kana name (half-width when `half`), and the chosen fields.
pub(crate) fn holder(p: &Person, half: bool, name: bool, birth: bool, phone: Option<&str>, email: Option<&str>) -> Json {
    let mut m = Map::new();
    m.insert("name_kana".into(), Json::String(if half { half_width(&p.kana) } else { p.kana.clone() }));
    if name {
        m.insert("name".into(), Json::String(p.kanji.clone()));
    }
    if birth {
        m.insert("birth_date".into(), Json::String(p.birth.clone()));
    }
    if let Some(ph) = phone {
        m.insert("phone".into(), Json::String(ph.to_string()));
    }
    if let Some(e) = email {
        m.insert("email".into(), Json::String(e.to_string()));
    }
    Json::Object(m)
}

/// Full-width katakana to half-width (as many bank systems store names): `ガ` becomes
/// `ｶﾞ`; anything else is kept.
pub(crate) fn half_width(s: &str) -> String {
    const PLAIN: &[(char, char)] = &[
        ('ア', 'ｱ'),
        ('イ', 'ｲ'),
        ('ウ', 'ｳ'),
        ('エ', 'ｴ'),
        ('オ', 'ｵ'),
        ('カ', 'ｶ'),
        ('キ', 'ｷ'),
        ('ク', 'ｸ'),
        ('ケ', 'ｹ'),
        ('コ', 'ｺ'),
        ('サ', 'ｻ'),
        ('シ', 'ｼ'),
        ('ス', 'ｽ'),
        ('セ', 'ｾ'),
        ('ソ', 'ｿ'),
        ('タ', 'ﾀ'),
        ('チ', 'ﾁ'),
        ('ツ', 'ﾂ'),
        ('テ', 'ﾃ'),
        ('ト', 'ﾄ'),
        ('ナ', 'ﾅ'),
        ('ニ', 'ﾆ'),
        ('ヌ', 'ﾇ'),
        ('ネ', 'ﾈ'),
        ('ノ', 'ﾉ'),
        ('ハ', 'ﾊ'),
        ('ヒ', 'ﾋ'),
        ('フ', 'ﾌ'),
        ('ヘ', 'ﾍ'),
        ('ホ', 'ﾎ'),
        ('マ', 'ﾏ'),
        ('ミ', 'ﾐ'),
        ('ム', 'ﾑ'),
        ('メ', 'ﾒ'),
        ('モ', 'ﾓ'),
        ('ヤ', 'ﾔ'),
        ('ユ', 'ﾕ'),
        ('ヨ', 'ﾖ'),
        ('ラ', 'ﾗ'),
        ('リ', 'ﾘ'),
        ('ル', 'ﾙ'),
        ('レ', 'ﾚ'),
        ('ロ', 'ﾛ'),
        ('ワ', 'ﾜ'),
        ('ヲ', 'ｦ'),
        ('ン', 'ﾝ'),
        ('ァ', 'ｧ'),
        ('ィ', 'ｨ'),
        ('ゥ', 'ｩ'),
        ('ェ', 'ｪ'),
        ('ォ', 'ｫ'),
        ('ャ', 'ｬ'),
        ('ュ', 'ｭ'),
        ('ョ', 'ｮ'),
        ('ッ', 'ｯ'),
        ('ー', 'ｰ'),
    ];
    let plain = |c: char| PLAIN.iter().find(|(f, _)| *f == c).map(|(_, h)| *h);
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if let Some(h) = plain(c) {
            out.push(h);
        } else if "ガギグゲゴザジズゼゾダヂヅデドバビブベボ".contains(c) {
            let base = char::from_u32(c as u32 - 1).and_then(plain);
            out.push(base.unwrap_or(c));
            out.push('ﾞ');
        } else if "パピプペポ".contains(c) {
            let base = char::from_u32(c as u32 - 2).and_then(plain);
            out.push(base.unwrap_or(c));
            out.push('ﾟ');
        } else if c == 'ヴ' {
            out.push_str("ｳﾞ");
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_width_kana() {
        assert_eq!(half_width("ヤマダ タロウ"), "ﾔﾏﾀﾞ ﾀﾛｳ");
        assert_eq!(half_width("ゴトウ キョウコ"), "ｺﾞﾄｳ ｷｮｳｺ");
        assert_eq!(half_width("パピプ"), "ﾊﾟﾋﾟﾌﾟ");
    }

    #[test]
    fn birth_years_are_adults() {
        let mut d = Dice::new(3, 0);
        for _ in 0..500 {
            let y = birth_year(&mut d);
            assert!((1932..=2006).contains(&y), "{y}");
        }
    }
}
