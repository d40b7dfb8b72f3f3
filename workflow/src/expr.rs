//! Switch conditions: a small expression language over outputs, parsed when a workflow is
//! compiled. Operators, loosest first: `||`, `&&`, `== !=`, `> >= < <=`, `+ -`, `* / %`,
//! unary `! -`; operands are references (`$.x`, `${N.x}`), numbers, quoted strings, `true`,
//! `false`, `null` and parenthesised expressions. Evaluation is in `eval`.

use crate::reference::{Ref, scan};

/// The longest condition accepted, in bytes; it bounds the parser's and evaluator's recursion.
pub const MAX_CONDITION_LEN: usize = 1024;
/// How deeply parentheses and unary operators may nest.
const MAX_NESTING: usize = 64;

/// A parsed condition.
#[derive(Debug, Clone)]
pub struct Condition {
    pub(crate) text: String,
    pub(crate) expr: Expr,
}

/// The expression tree.
#[derive(Debug, Clone)]
pub enum Expr {
    Num(f64),
    Str(String),
    Bool(bool),
    Null,
    Ref(Ref),
    Not(Box<Expr>),
    Neg(Box<Expr>),
    Binary(BinOp, Box<Expr>, Box<Expr>),
}

/// A binary operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    Or,
    And,
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
    Add,
    Sub,
    Mul,
    Div,
    Rem,
}

impl BinOp {
    pub fn as_str(self) -> &'static str {
        match self {
            BinOp::Or => "||",
            BinOp::And => "&&",
            BinOp::Eq => "==",
            BinOp::Ne => "!=",
            BinOp::Gt => ">",
            BinOp::Ge => ">=",
            BinOp::Lt => "<",
            BinOp::Le => "<=",
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Rem => "%",
        }
    }
}

/// Why a condition could not be read: what and at which byte.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("at byte {at}: {message}")]
pub struct ParseError {
    pub at: usize,
    pub message: String,
}

#[derive(Debug, Clone)]
enum Token {
    Num(f64),
    Str(String),
    Word(String),
    Ref(Ref),
    Op(&'static str),
}

const OPERATORS: [&str; 16] = ["==", "!=", ">=", "<=", "&&", "||", ">", "<", "!", "+", "-", "*", "/", "%", "(", ")"];

fn lex(text: &str) -> Result<Vec<(usize, Token)>, ParseError> {
    let err = |at: usize, message: String| ParseError { at, message };
    let mut tokens = Vec::new();
    let mut pos = 0;
    while let Some(c) = text[pos..].chars().next() {
        let start = pos;
        if c.is_whitespace() {
            pos += c.len_utf8();
        } else if c == '$' {
            let (r, end) = scan(text, pos).map_err(|m| err(start, m))?;
            tokens.push((start, Token::Ref(r)));
            pos = end;
        } else if c.is_ascii_digit() || (c == '.' && text[pos + 1..].starts_with(|c: char| c.is_ascii_digit())) {
            let len = number_len(&text[pos..]);
            let number: f64 = text[pos..pos + len].parse().map_err(|_| err(start, "not a number".to_owned()))?;
            if !number.is_finite() {
                return Err(err(start, "number out of range".to_owned()));
            }
            tokens.push((start, Token::Num(number)));
            pos += len;
        } else if c == '\'' || c == '"' {
            let (s, end) = string(text, pos).ok_or_else(|| err(start, "unterminated string".to_owned()))?;
            tokens.push((start, Token::Str(s)));
            pos = end;
        } else if c.is_alphabetic() || c == '_' {
            let len = text[pos..].find(|c: char| !(c.is_alphanumeric() || c == '_')).unwrap_or(text.len() - pos);
            tokens.push((start, Token::Word(text[pos..pos + len].to_owned())));
            pos += len;
        } else if let Some(op) = OPERATORS.iter().find(|op| text[pos..].starts_with(**op)) {
            tokens.push((start, Token::Op(op)));
            pos += op.len();
        } else {
            return Err(err(start, format!("unexpected `{c}`")));
        }
    }
    Ok(tokens)
}

fn number_len(s: &str) -> usize {
    let b = s.as_bytes();
    let digits = |mut i: usize| {
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        i
    };
    let mut i = digits(0);
    if b.get(i) == Some(&b'.') && b.get(i + 1).is_some_and(u8::is_ascii_digit) {
        i = digits(i + 1);
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        let sign = usize::from(matches!(b.get(i + 1), Some(b'+' | b'-')));
        if b.get(i + 1 + sign).is_some_and(u8::is_ascii_digit) {
            i = digits(i + 1 + sign);
        }
    }
    i
}

/// A quoted string starting at `pos`, with `\\`, `\'`, `\"`, `\n`, `\t` escapes.
fn string(text: &str, pos: usize) -> Option<(String, usize)> {
    let mut chars = text[pos..].char_indices();
    let (_, quote) = chars.next()?;
    let mut out = String::new();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => match chars.next()?.1 {
                'n' => out.push('\n'),
                't' => out.push('\t'),
                other => out.push(other),
            },
            c if c == quote => return Some((out, pos + i + 1)),
            c => out.push(c),
        }
    }
    None
}

struct Parser {
    tokens: Vec<(usize, Token)>,
    at: usize,
    end: usize,
    depth: usize,
}

impl Parser {
    fn pos(&self) -> usize {
        self.tokens.get(self.at).map_or(self.end, |(p, _)| *p)
    }

    fn error(&self, message: impl Into<String>) -> ParseError {
        ParseError { at: self.pos(), message: message.into() }
    }

    fn eat(&mut self, op: &str) -> bool {
        if matches!(self.tokens.get(self.at), Some((_, Token::Op(o))) if *o == op) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    /// One level of left-associative binary operators.
    fn binary(&mut self, level: usize) -> Result<Expr, ParseError> {
        const LEVELS: [&[(&str, BinOp)]; 6] = [
            &[("||", BinOp::Or)],
            &[("&&", BinOp::And)],
            &[("==", BinOp::Eq), ("!=", BinOp::Ne)],
            &[(">=", BinOp::Ge), ("<=", BinOp::Le), (">", BinOp::Gt), ("<", BinOp::Lt)],
            &[("+", BinOp::Add), ("-", BinOp::Sub)],
            &[("*", BinOp::Mul), ("/", BinOp::Div), ("%", BinOp::Rem)],
        ];
        let Some(ops) = LEVELS.get(level) else { return self.unary() };
        let mut left = self.binary(level + 1)?;
        'more: loop {
            for (text, op) in *ops {
                if self.eat(text) {
                    let right = self.binary(level + 1)?;
                    left = Expr::Binary(*op, Box::new(left), Box::new(right));
                    continue 'more;
                }
            }
            return Ok(left);
        }
    }

    fn nested(&mut self, f: impl FnOnce(&mut Parser) -> Result<Expr, ParseError>) -> Result<Expr, ParseError> {
        if self.depth >= MAX_NESTING {
            return Err(self.error("nested too deeply"));
        }
        self.depth += 1;
        let result = f(self);
        self.depth -= 1;
        result
    }

    fn unary(&mut self) -> Result<Expr, ParseError> {
        if self.eat("!") {
            return self.nested(|p| Ok(Expr::Not(Box::new(p.unary()?))));
        }
        if self.eat("-") {
            return self.nested(|p| Ok(Expr::Neg(Box::new(p.unary()?))));
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Expr, ParseError> {
        if self.eat("(") {
            let inner = self.nested(|p| p.binary(0))?;
            if !self.eat(")") {
                return Err(self.error("expected `)`"));
            }
            return Ok(inner);
        }
        let Some((_, token)) = self.tokens.get(self.at).cloned() else {
            return Err(self.error("expected a value"));
        };
        let expr = match token {
            Token::Num(n) => Expr::Num(n),
            Token::Str(s) => Expr::Str(s),
            Token::Ref(r) => Expr::Ref(r),
            Token::Word(w) => match w.as_str() {
                "true" => Expr::Bool(true),
                "false" => Expr::Bool(false),
                "null" => Expr::Null,
                _ => return Err(self.error(format!("unknown word `{w}`; quote strings"))),
            },
            Token::Op(op) => return Err(self.error(format!("expected a value, found `{op}`"))),
        };
        self.at += 1;
        Ok(expr)
    }
}

impl Condition {
    /// Parses a condition; every reference's path is parsed too.
    pub fn parse(text: &str) -> Result<Condition, ParseError> {
        if text.len() > MAX_CONDITION_LEN {
            return Err(ParseError { at: 0, message: format!("longer than {MAX_CONDITION_LEN} bytes") });
        }
        let tokens = lex(text)?;
        let mut parser = Parser { tokens, at: 0, end: text.len(), depth: 0 };
        let expr = parser.binary(0)?;
        if parser.at != parser.tokens.len() {
            return Err(parser.error("unexpected text after the expression"));
        }
        Ok(Condition { text: text.to_owned(), expr })
    }

    /// The condition as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    pub fn expr(&self) -> &Expr {
        &self.expr
    }

    /// Every reference, for checks and resolution.
    pub(crate) fn refs_mut(&mut self) -> Vec<&mut Ref> {
        fn walk<'a>(e: &'a mut Expr, out: &mut Vec<&'a mut Ref>) {
            match e {
                Expr::Ref(r) => out.push(r),
                Expr::Not(e) | Expr::Neg(e) => walk(e, out),
                Expr::Binary(_, l, r) => {
                    walk(l, out);
                    walk(r, out);
                }
                Expr::Num(_) | Expr::Str(_) | Expr::Bool(_) | Expr::Null => {}
            }
        }
        let mut out = Vec::new();
        walk(&mut self.expr, &mut out);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(e: &Expr) -> String {
        match e {
            Expr::Num(n) => n.to_string(),
            Expr::Str(s) => format!("{s:?}"),
            Expr::Bool(b) => b.to_string(),
            Expr::Null => "null".into(),
            Expr::Ref(r) => format!("{}:{}", r.node.as_deref().unwrap_or(""), r.path.as_str()),
            Expr::Not(e) => format!("!{}", shape(e)),
            Expr::Neg(e) => format!("-{}", shape(e)),
            Expr::Binary(op, l, r) => format!("({} {} {})", shape(l), op.as_str(), shape(r)),
        }
    }

    fn parsed(text: &str) -> String {
        shape(&Condition::parse(text).expect(text).expr)
    }

    #[test]
    fn precedence_and_associativity() {
        assert_eq!(parsed("$.user_id != 1"), "(:$.user_id != 1)");
        assert_eq!(parsed("$.a - 1 - 2"), "((:$.a - 1) - 2)");
    }

    #[test]
    fn operators_bind_as_documented() {
        assert_eq!(parsed("1 + 2 * 3 - 4 % 5"), "((1 + (2 * 3)) - (4 % 5))");
        assert_eq!(parsed("a || b && c".replace(['a', 'b', 'c'], "true").as_str()), "(true || (true && true))");
        assert_eq!(parsed("1 < 2 == 3 >= 4"), "((1 < 2) == (3 >= 4))");
        assert_eq!(parsed("!-${N.a[0]} / (2)"), "(!-N:$.a[0] / 2)");
        assert_eq!(parsed("'it\\'s' == \"x\""), "(\"it's\" == \"x\")");
        assert_eq!(parsed("1.5e2 == .5"), "(150 == 0.5)");
    }

    #[test]
    fn malformed_conditions_are_refused_with_a_position() {
        for (bad, at) in [("1 +", 3), ("(1", 2), ("1 = 1", 2), ("'x", 0), ("x == 1", 0), ("1 2", 2), ("", 0)] {
            let e = Condition::parse(bad).expect_err(bad);
            assert_eq!(e.at, at, "{bad}: {e}");
        }
        assert!(Condition::parse(&"(".repeat(100)).is_err());
        assert!(Condition::parse(&"!".repeat(100)).is_err());
    }
}
