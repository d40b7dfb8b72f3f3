//! Template syntax: MyBatis-flavoured XML, read leniently into a tree of elements and text.
//!
//! Only the script tags are markup; any other `<` that does not look like a tag is SQL text,
//! so `a < b` needs no escaping. Names are not resolved here (see `mod.rs`). Every position
//! is a byte offset into the template.

/// Deepest tag nesting accepted, so that a hostile definition cannot overflow the stack.
pub(super) const MAX_DEPTH: usize = 64;

/// A syntax error at a byte offset.
#[derive(Debug)]
pub(super) struct SyntaxError {
    pub at: usize,
    pub message: String,
}

fn error<T>(at: usize, message: impl Into<String>) -> Result<T, SyntaxError> {
    Err(SyntaxError { at, message: message.into() })
}

/// 1-based line and column (in characters) of a byte offset.
pub(super) fn line_col(src: &str, at: usize) -> (usize, usize) {
    let before = src.get(..at).unwrap_or(src);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
    (line, column)
}

/// The tags a template may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Tag {
    Select,
    If,
    Where,
    Choose,
    When,
    Otherwise,
    Foreach,
    Trim,
}

impl Tag {
    fn from_lowercase(name: &str) -> Option<Tag> {
        Some(match name {
            "select" => Tag::Select,
            "if" => Tag::If,
            "where" => Tag::Where,
            "choose" => Tag::Choose,
            "when" => Tag::When,
            "otherwise" => Tag::Otherwise,
            "foreach" => Tag::Foreach,
            "trim" => Tag::Trim,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Tag::Select => "select",
            Tag::If => "if",
            Tag::Where => "where",
            Tag::Choose => "choose",
            Tag::When => "when",
            Tag::Otherwise => "otherwise",
            Tag::Foreach => "foreach",
            Tag::Trim => "trim",
        }
    }
}

/// MyBatis tags that script mode deliberately lacks: named so the error can say why.
const UNSUPPORTED: &[&str] =
    &["insert", "update", "delete", "set", "sql", "include", "bind", "selectkey", "mapper", "resultmap"];

/// Text with its `#{…}` and `${…}` references split out.
#[derive(Debug)]
pub(super) enum Piece {
    Sql(String),
    /// `#{name}` (bind) or `${name}` (splice); `at` is the offset of the `#` or `$`.
    Ref {
        splice: bool,
        name: String,
        at: usize,
    },
}

#[derive(Debug)]
pub(super) enum RawNode {
    /// `solid_at` is the offset of the first non-blank character, if any.
    Text {
        pieces: Vec<Piece>,
        solid_at: Option<usize>,
    },
    Element(Element),
}

#[derive(Debug)]
pub(super) struct Element {
    pub tag: Tag,
    pub at: usize,
    pub attrs: Vec<Attr>,
    pub children: Vec<RawNode>,
}

/// An attribute with entities decoded; `offsets[i]` is the template offset of value byte `i`.
#[derive(Debug)]
pub(super) struct Attr {
    pub name: String,
    pub at: usize,
    pub value: String,
    offsets: Vec<usize>,
    end: usize,
}

impl Attr {
    /// Template offset of a byte offset into the decoded value.
    pub fn offset_of(&self, value_offset: usize) -> usize {
        self.offsets.get(value_offset).copied().unwrap_or(self.end)
    }
}

/// Reads a whole template.
pub(super) fn parse(src: &str) -> Result<Vec<RawNode>, SyntaxError> {
    Parser { src, pos: 0 }.nodes(None, 0)
}

struct Parser<'a> {
    src: &'a str,
    pos: usize,
}

/// An opening tag as read, before its children.
struct OpenTag {
    tag: Tag,
    attrs: Vec<Attr>,
    self_closing: bool,
    end: usize,
}

#[derive(Default)]
struct TextRun {
    pieces: Vec<Piece>,
    sql: String,
    solid_at: Option<usize>,
}

impl TextRun {
    fn push(&mut self, c: char, at: usize) {
        if self.solid_at.is_none() && !c.is_whitespace() {
            self.solid_at = Some(at);
        }
        self.sql.push(c);
    }

    fn push_ref(&mut self, piece: Piece, at: usize) {
        self.solid_at.get_or_insert(at);
        if !self.sql.is_empty() {
            self.pieces.push(Piece::Sql(std::mem::take(&mut self.sql)));
        }
        self.pieces.push(piece);
    }

    fn flush_into(&mut self, nodes: &mut Vec<RawNode>) {
        let mut run = std::mem::take(self);
        if !run.sql.is_empty() {
            run.pieces.push(Piece::Sql(run.sql));
        }
        if !run.pieces.is_empty() {
            nodes.push(RawNode::Text { pieces: run.pieces, solid_at: run.solid_at });
        }
    }
}

impl Parser<'_> {
    fn rest(&self) -> &str {
        &self.src[self.pos..]
    }

    /// Reads nodes up to the close of `open` (or the end of the template at the top level).
    fn nodes(&mut self, open: Option<(Tag, usize)>, depth: usize) -> Result<Vec<RawNode>, SyntaxError> {
        let mut nodes = Vec::new();
        let mut text = TextRun::default();
        loop {
            let at = self.pos;
            let Some(c) = self.rest().chars().next() else {
                text.flush_into(&mut nodes);
                return match open {
                    Some((tag, open_at)) => error(open_at, format!("`<{}>` is never closed", tag.name())),
                    None => Ok(nodes),
                };
            };
            match c {
                '<' if self.rest().starts_with("<!--") => {
                    let Some(end) = self.src[at + 4..].find("-->") else {
                        return error(at, "comment `<!--` is never closed with `-->`");
                    };
                    self.pos = at + 4 + end + 3;
                }
                '<' if self.rest().starts_with("<![CDATA[") => {
                    let start = at + 9;
                    let Some(len) = self.src[start..].find("]]>") else {
                        return error(at, "`<![CDATA[` is never closed with `]]>`");
                    };
                    // CDATA text is literal (no tags, no entities) but, as in MyBatis,
                    // `#{…}` inside it still binds.
                    let end = start + len;
                    let mut i = start;
                    while i < end {
                        i = self.text_char(&mut text, i, end, false)?;
                    }
                    self.pos = end + 3;
                }
                '<' if self.rest().starts_with("<!") => {
                    return error(at, "only comments `<!-- … -->` and `<![CDATA[ … ]]>` may start with `<!`");
                }
                '<' if self.rest().starts_with("</") => {
                    let (tag, end) = self.close_tag(at)?;
                    text.flush_into(&mut nodes);
                    return match open {
                        Some((open_tag, _)) if open_tag == tag => {
                            self.pos = end;
                            Ok(nodes)
                        }
                        Some((open_tag, open_at)) => {
                            let (line, column) = line_col(self.src, open_at);
                            error(
                                at,
                                format!(
                                    "`</{}>` does not close `<{}>` opened at line {line}, column {column}",
                                    tag.name(),
                                    open_tag.name()
                                ),
                            )
                        }
                        None => error(at, format!("`</{}>` has no matching open tag", tag.name())),
                    };
                }
                '<' => match self.open_tag(at)? {
                    Some(open_tag) => {
                        text.flush_into(&mut nodes);
                        if depth >= MAX_DEPTH {
                            return error(at, format!("tags nest deeper than {MAX_DEPTH} levels"));
                        }
                        self.pos = open_tag.end;
                        let children = if open_tag.self_closing {
                            Vec::new()
                        } else {
                            self.nodes(Some((open_tag.tag, at)), depth + 1)?
                        };
                        nodes.push(RawNode::Element(Element {
                            tag: open_tag.tag,
                            at,
                            attrs: open_tag.attrs,
                            children,
                        }));
                    }
                    None => {
                        text.push('<', at);
                        self.pos = at + 1;
                    }
                },
                _ => self.pos = self.text_char(&mut text, at, self.src.len(), true)?,
            }
        }
    }

    /// Adds the text at `at` (one character, an entity or a reference) and returns the next
    /// offset. References must end before `limit`.
    fn text_char(&self, text: &mut TextRun, at: usize, limit: usize, entities: bool) -> Result<usize, SyntaxError> {
        let rest = &self.src[at..limit];
        if rest.starts_with("#{") || rest.starts_with("${") {
            let Some(len) = rest.find('}') else {
                return error(at, format!("`{}` is never closed with `}}`", &rest[..2]));
            };
            let inner = &rest[2..len];
            // MyBatis options after a comma (`jdbcType=…`) mean nothing here: values are typed.
            let name = inner.split(',').next().unwrap_or("").trim();
            if name.is_empty() {
                return error(at, format!("`{}}}` needs a parameter name", &rest[..2]));
            }
            let piece = Piece::Ref { splice: rest.starts_with('$'), name: name.to_owned(), at };
            text.push_ref(piece, at);
            return Ok(at + len + 1);
        }
        if entities && let Some((c, len)) = entity(rest) {
            text.push(c, at);
            return Ok(at + len);
        }
        let c = rest.chars().next().unwrap_or('\0');
        text.push(c, at);
        Ok(at + c.len_utf8())
    }

    /// `</name>` at `at`: the tag and the offset after it.
    fn close_tag(&self, at: usize) -> Result<(Tag, usize), SyntaxError> {
        let name_at = at + 2;
        let name = name_at_offset(self.src, name_at);
        let Some(tag) = Tag::from_lowercase(&name.to_ascii_lowercase()) else {
            return error(at, format!("unknown closing tag `</{name}>`"));
        };
        let after = name_at + name.len();
        let gap = self.src[after..].len() - self.src[after..].trim_start().len();
        if !self.src[after + gap..].starts_with('>') {
            return error(at, format!("closing tag `</{name}` must end with `>`"));
        }
        Ok((tag, after + gap + 1))
    }

    /// A known tag at `at`, `None` when the `<` is SQL text, or an error for unknown or
    /// unsupported tags and malformed known ones.
    fn open_tag(&self, at: usize) -> Result<Option<OpenTag>, SyntaxError> {
        let name = name_at_offset(self.src, at + 1);
        let after = at + 1 + name.len();
        let boundary = self.src[after..].chars().next().is_none_or(|c| c.is_whitespace() || c == '>' || c == '/');
        if name.is_empty() || !boundary {
            return Ok(None);
        }
        let lower = name.to_ascii_lowercase();
        if let Some(tag) = Tag::from_lowercase(&lower) {
            let (attrs, self_closing, end) = self.attributes(after)?;
            return Ok(Some(OpenTag { tag, attrs, self_closing, end }));
        }
        if UNSUPPORTED.contains(&lower.as_str()) {
            return error(
                at,
                format!(
                    "`<{name}>` is not supported: a script template is one SELECT built from \
                     <if>, <where>, <choose>, <foreach> and <trim>"
                ),
            );
        }
        if self.attributes(after).is_ok() {
            return error(
                at,
                format!(
                    "unknown tag `<{name}>`: use <if>, <where>, <choose>, <foreach> or <trim>; \
                     to compare with `<`, put a space after it or write `&lt;`"
                ),
            );
        }
        Ok(None)
    }

    /// Attributes from `from` up to `>` or `/>`: the attributes, whether self-closing, and the
    /// offset after the tag.
    fn attributes(&self, from: usize) -> Result<(Vec<Attr>, bool, usize), SyntaxError> {
        let src = self.src;
        let mut attrs: Vec<Attr> = Vec::new();
        let mut i = from;
        loop {
            i += src[i..].len() - src[i..].trim_start().len();
            let rest = &src[i..];
            if rest.starts_with('>') {
                return Ok((attrs, false, i + 1));
            }
            if rest.starts_with("/>") {
                return Ok((attrs, true, i + 2));
            }
            if rest.is_empty() {
                return error(i, "tag is never closed with `>`");
            }
            let name = name_at_offset(src, i);
            if name.is_empty() {
                return error(i, "expected an attribute name, `>` or `/>`");
            }
            if attrs.iter().any(|a| a.name.eq_ignore_ascii_case(name)) {
                return error(i, format!("attribute `{name}` is given twice"));
            }
            let name_at = i;
            i += name.len();
            i += src[i..].len() - src[i..].trim_start().len();
            if !src[i..].starts_with('=') {
                return error(i, format!("attribute `{name}` needs `=\"…\"`"));
            }
            i += 1;
            i += src[i..].len() - src[i..].trim_start().len();
            let quote = match src[i..].chars().next() {
                Some(q @ ('"' | '\'')) => q,
                _ => return error(i, format!("the value of `{name}` must be quoted")),
            };
            i += 1;
            let mut value = String::new();
            let mut offsets = Vec::new();
            loop {
                let rest = &src[i..];
                let Some(c) = rest.chars().next() else {
                    return error(name_at, format!("the value of `{name}` is never closed"));
                };
                if c == quote {
                    break;
                }
                // A raw `<` or `&` is accepted as itself, so `test="a < 5 && b"` works.
                let (c, len) = entity(rest).unwrap_or((c, c.len_utf8()));
                offsets.extend(std::iter::repeat_n(i, c.len_utf8()));
                value.push(c);
                i += len;
            }
            attrs.push(Attr { name: name.to_owned(), at: name_at, value, offsets, end: i });
            i += 1;
        }
    }
}

/// The XML-style name starting at `at` (empty if none).
fn name_at_offset(src: &str, at: usize) -> &str {
    let rest = &src[at..];
    let mut end = 0;
    for (i, c) in rest.char_indices() {
        let ok = if i == 0 {
            c.is_ascii_alphabetic() || c == '_'
        } else {
            c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | ':' | '.')
        };
        if !ok {
            break;
        }
        end = i + c.len_utf8();
    }
    &rest[..end]
}

/// An entity at the start of `text`: the character and the entity's length.
fn entity(text: &str) -> Option<(char, usize)> {
    if !text.starts_with('&') {
        return None;
    }
    let end = text.bytes().take(12).position(|b| b == b';')?;
    let body = &text[1..end];
    let c = match body {
        "lt" => '<',
        "gt" => '>',
        "amp" => '&',
        "quot" => '"',
        "apos" => '\'',
        _ => {
            let code = if let Some(hex) = body.strip_prefix("#x").or_else(|| body.strip_prefix("#X")) {
                u32::from_str_radix(hex, 16).ok()?
            } else {
                body.strip_prefix('#')?.parse().ok()?
            };
            char::from_u32(code)?
        }
    };
    Some((c, end + 1))
}
