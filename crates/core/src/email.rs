//! Email content: one way of building every message the backend sends.
//!
//! A message is a title plus [`Block`]s; [`Message::render`] produces the plain-text and the HTML
//! part from the same blocks, escaping every value for HTML. Subjects and other header values go
//! through [`header_safe`], which removes control characters (no header injection) and bounds the
//! length. Delivery (MIME, SES) is the `Mailer`'s job.

use crate::config::PortalConfig;
use crate::validate::is_control;

/// A file attached to an email.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    pub filename: String,
    pub content_type: String,
    pub data: Vec<u8>,
}

/// An image shown inside the HTML part (MIME `multipart/related`), referenced from it as
/// `cid:<content_id>` (e.g. by a [`Block::Figure`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InlineImage {
    /// The part's `Content-ID` (without angle brackets).
    pub content_id: String,
    /// E.g. `image/png`.
    pub content_type: String,
    pub data: Vec<u8>,
}

/// An email ready to be sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email {
    pub from: String,
    pub reply_to: String,
    pub to: Vec<String>,
    pub subject: String,
    pub text: String,
    pub html: String,
    pub attachments: Vec<Attachment>,
    /// Images the HTML part shows inline (empty for most emails).
    pub inline_images: Vec<InlineImage>,
}

/// A piece of an email body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Block {
    Paragraph(String),
    /// A labelled link; the URL is shown in full in the text part.
    Link {
        label: String,
        url: String,
    },
    /// A numbered list of steps.
    Steps(Vec<String>),
    /// Text quoted from someone else (e.g. a rejection reason).
    Quote(String),
    /// A small table: header row plus rows.
    Table {
        header: Vec<String>,
        rows: Vec<Vec<String>>,
    },
    /// A picture from an [`InlineImage`] with the same figures as a table: the HTML part shows
    /// the image (`alt` text for clients that block images) above the table; the text part has
    /// the alt text and the table with aligned columns.
    Figure {
        content_id: String,
        alt_text: String,
        width: u32,
        height: u32,
        caption: String,
        header: Vec<String>,
        rows: Vec<Vec<String>>,
    },
}

/// The body of an email: a title (also the HTML heading) and blocks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub greeting: String,
    pub blocks: Vec<Block>,
}

impl Message {
    pub fn new(greeting: impl Into<String>) -> Self {
        Message { greeting: greeting.into(), blocks: Vec::new() }
    }

    pub fn paragraph(mut self, text: impl Into<String>) -> Self {
        self.blocks.push(Block::Paragraph(text.into()));
        self
    }

    pub fn link(mut self, label: impl Into<String>, url: impl Into<String>) -> Self {
        self.blocks.push(Block::Link { label: label.into(), url: url.into() });
        self
    }

    pub fn steps<S: Into<String>>(mut self, steps: impl IntoIterator<Item = S>) -> Self {
        self.blocks.push(Block::Steps(steps.into_iter().map(Into::into).collect()));
        self
    }

    pub fn quote(mut self, text: impl Into<String>) -> Self {
        self.blocks.push(Block::Quote(text.into()));
        self
    }

    pub fn table(mut self, header: Vec<String>, rows: Vec<Vec<String>>) -> Self {
        self.blocks.push(Block::Table { header, rows });
        self
    }

    pub fn figure(mut self, figure: Block) -> Self {
        self.blocks.push(figure);
        self
    }

    /// Renders `(text, html)`.
    pub fn render(&self, signature: &str) -> (String, String) {
        let mut text = format!("{}\n\n", self.greeting);
        let mut html =
            String::from("<!DOCTYPE html>\n<html><body style=\"font-family: sans-serif; line-height: 1.4\">\n");
        html.push_str(&format!("<p>{}</p>\n", escape_html(&self.greeting)));
        for block in &self.blocks {
            match block {
                Block::Paragraph(p) => {
                    text.push_str(&format!("{p}\n\n"));
                    html.push_str(&format!("<p>{}</p>\n", escape_html(p)));
                }
                Block::Link { label, url } => {
                    text.push_str(&format!("{label}: {url}\n\n"));
                    html.push_str(&format!(
                        "<p>{}: <a href=\"{}\">{}</a></p>\n",
                        escape_html(label),
                        escape_html(url),
                        escape_html(url)
                    ));
                }
                Block::Steps(steps) => {
                    html.push_str("<ol>\n");
                    for (i, step) in steps.iter().enumerate() {
                        text.push_str(&format!("  {}. {step}\n", i + 1));
                        html.push_str(&format!("<li>{}</li>\n", escape_html(step)));
                    }
                    text.push('\n');
                    html.push_str("</ol>\n");
                }
                Block::Quote(q) => {
                    for line in q.lines() {
                        text.push_str(&format!("> {line}\n"));
                    }
                    text.push('\n');
                    html.push_str(&format!(
                        "<blockquote style=\"border-left: 3px solid #ccc; padding-left: 8px\">{}</blockquote>\n",
                        escape_html(q).replace('\n', "<br>")
                    ));
                }
                Block::Table { header, rows } => {
                    text.push_str(&header.join(" | "));
                    text.push('\n');
                    for row in rows {
                        text.push_str(&row.join(" | "));
                        text.push('\n');
                    }
                    text.push('\n');
                    html.push_str("<table border=\"1\" cellpadding=\"4\" style=\"border-collapse: collapse\">\n<tr>");
                    for h in header {
                        html.push_str(&format!("<th>{}</th>", escape_html(h)));
                    }
                    html.push_str("</tr>\n");
                    for row in rows {
                        html.push_str("<tr>");
                        for cell in row {
                            html.push_str(&format!("<td>{}</td>", escape_html(cell)));
                        }
                        html.push_str("</tr>\n");
                    }
                    html.push_str("</table>\n");
                }
                Block::Figure { content_id, alt_text, width, height, caption, header, rows } => {
                    text.push_str(&format!("{caption}\n({alt_text})\n\n{}\n", aligned_table(header, rows)));
                    html.push_str(&format!(
                        "<p><img src=\"cid:{}\" alt=\"{}\" width=\"{width}\" height=\"{height}\" style=\"max-width:100%;height:auto\"></p>\n",
                        escape_html(content_id),
                        escape_html(alt_text)
                    ));
                    html.push_str(&format!(
                        "<table cellpadding=\"2\" style=\"border-collapse: collapse; font-size: 13px\">\n<caption style=\"text-align: left; font-weight: bold\">{}</caption>\n<tr>",
                        escape_html(caption)
                    ));
                    for (col, h) in header.iter().enumerate() {
                        html.push_str(&format!("<th style=\"text-align: {}\">{}</th>", align(col), escape_html(h)));
                    }
                    html.push_str("</tr>\n");
                    for row in rows {
                        html.push_str("<tr>");
                        for (col, cell) in row.iter().enumerate() {
                            html.push_str(&format!(
                                "<td style=\"text-align: {}\">{}</td>",
                                align(col),
                                escape_html(cell)
                            ));
                        }
                        html.push_str("</tr>\n");
                    }
                    html.push_str("</table>\n");
                }
            }
        }
        text.push_str(&format!("-- \n{signature}\n"));
        html.push_str(&format!("<p>&mdash;<br>{}</p>\n</body></html>\n", escape_html(signature)));
        (text, html)
    }
}

/// Labels (first column) left, figures right.
fn align(col: usize) -> &'static str {
    if col == 0 {
        "left"
    } else {
        "right"
    }
}

/// A table as plain text with aligned columns (first column left-aligned, the others right).
pub fn aligned_table(header: &[String], rows: &[Vec<String>]) -> String {
    let widths: Vec<usize> = (0..header.len())
        .map(|col| {
            std::iter::once(header)
                .chain(rows.iter().map(Vec::as_slice))
                .filter_map(|line| line.get(col))
                .map(|cell| cell.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for line in std::iter::once(header).chain(rows.iter().map(Vec::as_slice)) {
        let cells: Vec<String> = line
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(col, (cell, w))| if col == 0 { format!("{cell:<w$}") } else { format!("{cell:>w$}") })
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}

/// Builds an [`Email`] from the configured sender and reply-to, a subject and a message.
pub fn compose(config: &PortalConfig, to: Vec<String>, subject: &str, message: &Message) -> Email {
    let signature = format!("The Marketplace team <{}>", config.team_inbox);
    let (text, html) = message.render(&signature);
    Email {
        from: config.sender.clone(),
        reply_to: config.reply_to.clone(),
        to,
        subject: header_safe(subject),
        text,
        html,
        attachments: Vec::new(),
        inline_images: Vec::new(),
    }
}

/// Escapes text for HTML element content and attribute values.
pub fn escape_html(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// Makes a value safe for an email header: control characters become spaces, runs of whitespace
/// collapse, and the result is at most 200 characters (cut at a character boundary, with `…`).
pub fn header_safe(value: &str) -> String {
    const MAX: usize = 200;
    let cleaned: String = value.chars().map(|c| if is_control(c) { ' ' } else { c }).collect();
    let collapsed = cleaned.split_whitespace().collect::<Vec<_>>().join(" ");
    if collapsed.chars().count() <= MAX {
        collapsed
    } else {
        let mut cut: String = collapsed.chars().take(MAX - 1).collect();
        cut.push('…');
        cut
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_part_escapes_every_value_and_text_part_keeps_it() {
        let message = Message::new("Hello <b>Jane</b> & co,")
            .paragraph("Your product \"<script>alert(1)</script>\" is live.")
            .link("Portal", "https://portal.example.com/?a=1&b=2")
            .quote("line one\n<i>line two</i>")
            .table(vec!["Plan".into()], vec![vec!["<hourly>".into()]]);
        let (text, html) = message.render("Team <team@example.com>");
        assert!(!html.contains("<script>"));
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(html.contains("Hello &lt;b&gt;Jane&lt;/b&gt; &amp; co,"));
        assert!(html.contains("href=\"https://portal.example.com/?a=1&amp;b=2\""));
        assert!(html.contains("&lt;hourly&gt;"));
        assert!(html.contains("line one<br>&lt;i&gt;line two&lt;/i&gt;"));
        assert!(text.contains("Your product \"<script>alert(1)</script>\" is live."));
        assert!(text.contains("> line one\n> <i>line two</i>\n"));
        assert!(text.ends_with("-- \nTeam <team@example.com>\n"));
    }

    #[test]
    fn a_figure_shows_the_inline_image_in_html_and_its_alt_text_and_aligned_table_in_text() {
        let figure = Block::Figure {
            content_id: "chart@x".into(),
            alt_text: "Chart <of> days".into(),
            width: 720,
            height: 360,
            caption: "Last 2 days".into(),
            header: vec!["Date".into(), "Deployments".into()],
            rows: vec![vec!["2026-02-13".into(), "7".into()], vec!["Total".into(), "12".into()]],
        };
        let (text, html) = Message::new("Hello,").figure(figure).render("Team");
        assert!(html.contains("<img src=\"cid:chart@x\" alt=\"Chart &lt;of&gt; days\" width=\"720\" height=\"360\""));
        assert!(html.contains("<td style=\"text-align: right\">12</td>"), "{html}");
        assert!(text.contains(
            "Last 2 days\n(Chart <of> days)\n\nDate        Deployments\n2026-02-13            7\nTotal                12\n"
        ), "{text}");
    }

    #[test]
    fn header_values_lose_control_characters_and_are_bounded() {
        assert_eq!(header_safe("Welcome\r\nBcc: evil@example.com"), "Welcome Bcc: evil@example.com");
        assert_eq!(header_safe("  a\t\tb \u{202E} c "), "a b c");
        let long = header_safe(&"x".repeat(500));
        assert_eq!(long.chars().count(), 200);
        assert!(long.ends_with('…'));
    }
}
