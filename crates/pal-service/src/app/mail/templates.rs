//! What a code mail says: a subject and a plain-text body per purpose, built in
//! or read from `SMTP_TEMPLATE_DIR`, with `{code}` and `{minutes}` filled in.
//! Every template is checked when the configuration is read, so a mail that
//! would not carry its code stops start-up instead of reaching people.

use std::path::Path;

use pal::env::Env;

use crate::app::codes::Purpose;

/// The placeholders a template may use.
const PLACEHOLDERS: [&str; 2] = ["{code}", "{minutes}"];

/// Past this a file is not a mail template but a mistake (a wrong folder).
const MAX_TEMPLATE_BYTES: usize = 64 * 1024;

/// Longer subjects are cut by every mail client anyway, and folding them would
/// split a `{code}` across lines.
const MAX_SUBJECT_CHARS: usize = 200;

const ENROLLMENT_SUBJECT: &str = "Confirm your email address";
const ENROLLMENT_BODY: &str = "\
Your confirmation code is {code}.

Enter it to finish creating your account. It is valid for {minutes} minutes.

If you did not ask for an account, ignore this message: nothing happens without the code.
";
const VERIFICATION_SUBJECT: &str = "Your sign-in code";
const VERIFICATION_BODY: &str = "\
Your sign-in code is {code}.

It is valid for {minutes} minutes.

If you did not try to sign in, ignore this message: nobody can sign in without the code.
";

/// The subject and body of one purpose's mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    /// One line, with any placeholders.
    pub subject: String,
    /// Plain text that holds `{code}`.
    pub body: String,
}

/// The mail of every purpose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Templates {
    enrollment: Template,
    verification: Template,
}

impl Default for Templates {
    fn default() -> Self {
        let template = |subject: &str, body: &str| Template { subject: subject.into(), body: body.into() };
        Templates {
            enrollment: template(ENROLLMENT_SUBJECT, ENROLLMENT_BODY),
            verification: template(VERIFICATION_SUBJECT, VERIFICATION_BODY),
        }
    }
}

impl Templates {
    /// The built-in mails, with each file of `SMTP_TEMPLATE_DIR` in place of the
    /// one it names. Records why when a file cannot be used.
    pub fn read(env: &mut Env) -> Option<Templates> {
        let mut templates = Templates::default();
        let Some(dir) = env.get("SMTP_TEMPLATE_DIR").map(str::to_string) else {
            return Some(templates);
        };
        if let Err(e) = std::fs::read_dir(&dir) {
            env.invalid("SMTP_TEMPLATE_DIR", &dir, format!("the folder cannot be read: {e}"));
            return None;
        }
        let errors = env.error_count();
        let mut found = 0;
        for purpose in [Purpose::Enrollment, Purpose::Verification] {
            for subject in [true, false] {
                let name = file_name(purpose, subject);
                let Some(text) = read_file(env, &dir, &name) else { continue };
                found += 1;
                let text = if subject { text.trim_end_matches(['\r', '\n']).to_string() } else { text };
                if let Err(why) = check(&name, &text, subject) {
                    env.invalid("SMTP_TEMPLATE_DIR", &dir, why);
                    continue;
                }
                let template = templates.get_mut(purpose);
                if subject { template.subject = text } else { template.body = text }
            }
        }
        if found == 0 && env.error_count() == errors {
            env.invalid(
                "SMTP_TEMPLATE_DIR",
                &dir,
                "the folder holds none of enrollment.subject, enrollment.txt, verification.subject, \
                 verification.txt: add the ones to override, or unset SMTP_TEMPLATE_DIR",
            );
        }
        (env.error_count() == errors).then_some(templates)
    }

    /// The template of `purpose`.
    pub fn get(&self, purpose: Purpose) -> &Template {
        match purpose {
            Purpose::Enrollment => &self.enrollment,
            Purpose::Verification => &self.verification,
        }
    }

    fn get_mut(&mut self, purpose: Purpose) -> &mut Template {
        match purpose {
            Purpose::Enrollment => &mut self.enrollment,
            Purpose::Verification => &mut self.verification,
        }
    }

    /// The subject and body of `purpose`'s mail carrying `code`, valid for `minutes`.
    pub fn render(&self, purpose: Purpose, code: &str, minutes: u64) -> (String, String) {
        let template = self.get(purpose);
        let fill = |text: &str| text.replace("{minutes}", &minutes.to_string()).replace("{code}", code);
        (fill(&template.subject), fill(&template.body))
    }
}

/// `enrollment.subject`, `verification.txt`…
fn file_name(purpose: Purpose, subject: bool) -> String {
    format!("{}.{}", purpose.as_str(), if subject { "subject" } else { "txt" })
}

/// The file's text, `None` when it is not there (the built-in one stays) or when
/// it cannot be used (recorded).
fn read_file(env: &mut Env, dir: &str, name: &str) -> Option<String> {
    let path = Path::new(dir).join(name);
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => {
            env.invalid("SMTP_TEMPLATE_DIR", dir, format!("{name} cannot be read: {e}"));
            return None;
        }
    };
    if bytes.len() > MAX_TEMPLATE_BYTES {
        env.invalid("SMTP_TEMPLATE_DIR", dir, format!("{name} is over {MAX_TEMPLATE_BYTES} bytes"));
        return None;
    }
    match String::from_utf8(bytes) {
        Ok(text) => Some(text),
        Err(_) => {
            env.invalid("SMTP_TEMPLATE_DIR", dir, format!("{name} is not UTF-8 text"));
            None
        }
    }
}

/// Why `text` cannot be the template `name`: a body without `{code}`, an unknown
/// placeholder (most likely a typo that would reach people as it is), a subject
/// that is empty or not one line.
fn check(name: &str, text: &str, subject: bool) -> Result<(), String> {
    if let Some(unknown) = placeholders(text).find(|p| !PLACEHOLDERS.contains(p)) {
        return Err(format!(
            "{name} uses {unknown}, which is not a placeholder; the placeholders are {{code}} and {{minutes}}"
        ));
    }
    if subject {
        if text.trim().is_empty() {
            return Err(format!("{name} is empty; a subject is one line of text"));
        }
        if text.contains(['\r', '\n']) {
            return Err(format!("{name} has more than one line; a subject is one line of text"));
        }
        if text.chars().count() > MAX_SUBJECT_CHARS {
            return Err(format!("{name} is over {MAX_SUBJECT_CHARS} characters"));
        }
    } else if !text.contains("{code}") {
        return Err(format!("{name} does not contain {{code}}, so its mail would not carry the code"));
    }
    Ok(())
}

/// Every `{word}` in `text`: the placeholders, and the typos of them.
fn placeholders(text: &str) -> impl Iterator<Item = &str> {
    text.match_indices('{').filter_map(|(start, _)| {
        let rest = &text[start + 1..];
        let end = rest.find('}')?;
        let word = &rest[..end];
        let is_word = !word.is_empty() && word.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        is_word.then(|| &text[start..start + end + 2])
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_mails_pass_their_own_checks_and_carry_the_code() {
        let templates = Templates::default();
        for purpose in [Purpose::Enrollment, Purpose::Verification] {
            let template = templates.get(purpose);
            check("subject", &template.subject, true).unwrap();
            check("body", &template.body, false).unwrap();
            let (subject, body) = templates.render(purpose, "042137", 10);
            assert!(!subject.contains('{') && !body.contains('{'), "{subject} / {body}");
            assert!(body.contains("042137") && body.contains("10 minutes"), "{body}");
        }
    }

    #[test]
    fn a_body_without_the_code_or_with_an_unknown_placeholder_is_refused() {
        let no_code = check("enrollment.txt", "Welcome!", false).unwrap_err();
        assert!(no_code.contains("enrollment.txt") && no_code.contains("{code}"), "{no_code}");
        let typo = check("enrollment.txt", "{code} for {minute} minutes", false).unwrap_err();
        assert!(typo.contains("{minute}"), "{typo}");
        assert!(check("enrollment.txt", "{code} {minutes} {} { code } {{x", false).is_ok());
    }

    #[test]
    fn a_subject_is_one_line_of_text() {
        assert!(check("s", "Your code: {code}", true).is_ok());
        assert!(check("s", "  ", true).is_err());
        assert!(check("s", "a\nBcc: x@example.com", true).is_err());
        assert!(check("s", &"x".repeat(MAX_SUBJECT_CHARS + 1), true).is_err());
    }

    #[test]
    fn placeholders_are_found_with_their_braces() {
        let found: Vec<&str> = placeholders("a {code} b {x_1} {not one} {").collect();
        assert_eq!(found, ["{code}", "{x_1}"]);
    }
}
