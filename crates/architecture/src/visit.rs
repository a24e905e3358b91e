//! What one module writes, gathered by walking its syntax tree.

use proc_macro2::{TokenStream, TokenTree};
use syn::visit::Visit;

use crate::items::{Finding, ModPath, Use};

#[derive(Default)]
pub(crate) struct Collector {
    pub uses: Vec<Use>,
    pub paths: Vec<(ModPath, usize)>,
    pub statics: Vec<Finding>,
    pub macros: Vec<Finding>,
    pub extern_crates: Vec<Finding>,
    pub strings: Vec<Finding>,
}

impl Collector {
    pub(crate) fn item(&mut self, item: &syn::Item) {
        self.visit_item(item);
    }
}

fn line(span: proc_macro2::Span) -> usize {
    span.start().line
}

fn segments(path: &syn::Path) -> ModPath {
    let mut out: ModPath = Vec::new();
    if path.leading_colon.is_some() {
        out.push(String::new());
    }
    out.extend(path.segments.iter().map(|s| s.ident.to_string()));
    out
}

fn expand(tree: &syn::UseTree, prefix: &mut ModPath, public: bool, out: &mut Vec<Use>) {
    match tree {
        syn::UseTree::Path(p) => {
            prefix.push(p.ident.to_string());
            expand(&p.tree, prefix, public, out);
            prefix.pop();
        }
        syn::UseTree::Name(n) => {
            let mut path = prefix.clone();
            // `use a::{self}` names `a` itself.
            if n.ident != "self" || path.is_empty() {
                path.push(n.ident.to_string());
            }
            out.push(Use { public, path, alias: None, line: line(n.ident.span()) });
        }
        syn::UseTree::Rename(r) => {
            let mut path = prefix.clone();
            if r.ident != "self" || path.is_empty() {
                path.push(r.ident.to_string());
            }
            out.push(Use { public, path, alias: Some(r.rename.to_string()), line: line(r.ident.span()) });
        }
        syn::UseTree::Glob(g) => {
            out.push(Use { public, path: prefix.clone(), alias: None, line: line(g.star_token.spans[0]) })
        }
        syn::UseTree::Group(g) => g.items.iter().for_each(|t| expand(t, prefix, public, out)),
    }
}

/// Paths in a macro's tokens (`a::b::c`: runs of identifiers joined by `::`), and
/// its string literals.
fn token_paths(tokens: TokenStream, out: &mut Vec<(ModPath, usize)>, strings: &mut Vec<Finding>) {
    let mut run: ModPath = Vec::new();
    let mut at = 0;
    let mut colons = 0;
    let flush = |run: &mut ModPath, at: usize, out: &mut Vec<(ModPath, usize)>| {
        if run.len() > 1 {
            out.push((std::mem::take(run), at));
        }
        run.clear();
    };
    for tree in tokens {
        match tree {
            TokenTree::Ident(ident) => {
                if run.is_empty() || colons != 2 {
                    flush(&mut run, at, out);
                    at = line(ident.span());
                }
                run.push(ident.to_string());
                colons = 0;
            }
            TokenTree::Punct(p) if p.as_char() == ':' => colons += 1,
            TokenTree::Literal(lit) => {
                flush(&mut run, at, out);
                colons = 0;
                if let Ok(s) = syn::parse_str::<syn::LitStr>(&lit.to_string()) {
                    strings.push(Finding { what: s.value(), line: line(lit.span()) });
                }
            }
            TokenTree::Group(g) => {
                flush(&mut run, at, out);
                colons = 0;
                token_paths(g.stream(), out, strings);
            }
            _ => {
                flush(&mut run, at, out);
                colons = 0;
            }
        }
    }
    flush(&mut run, at, out);
}

impl<'ast> Visit<'ast> for Collector {
    fn visit_item_use(&mut self, u: &'ast syn::ItemUse) {
        let public = !matches!(u.vis, syn::Visibility::Inherited);
        let mut prefix = Vec::new();
        if u.leading_colon.is_some() {
            prefix.push(String::new());
        }
        expand(&u.tree, &mut prefix, public, &mut self.uses);
    }

    // `pub(crate)` names a module, but imports nothing from it.
    fn visit_visibility(&mut self, _: &'ast syn::Visibility) {}

    fn visit_lit_str(&mut self, lit: &'ast syn::LitStr) {
        self.strings.push(Finding { what: lit.value(), line: line(lit.span()) });
    }

    // Inline modules are modules of their own, collected apart.
    fn visit_item_mod(&mut self, _: &'ast syn::ItemMod) {}

    fn visit_item_static(&mut self, s: &'ast syn::ItemStatic) {
        self.statics.push(Finding { what: format!("static {}", s.ident), line: line(s.ident.span()) });
        syn::visit::visit_item_static(self, s);
    }

    fn visit_item_extern_crate(&mut self, e: &'ast syn::ItemExternCrate) {
        self.extern_crates.push(Finding { what: e.ident.to_string(), line: line(e.ident.span()) });
    }

    fn visit_path(&mut self, path: &'ast syn::Path) {
        if let Some(first) = path.segments.first() {
            self.paths.push((segments(path), line(first.ident.span())));
        }
        syn::visit::visit_path(self, path);
    }

    fn visit_macro(&mut self, mac: &'ast syn::Macro) {
        if let Some(last) = mac.path.segments.last() {
            self.macros.push(Finding { what: last.ident.to_string(), line: line(last.ident.span()) });
        }
        self.visit_path(&mac.path);
        token_paths(mac.tokens.clone(), &mut self.paths, &mut self.strings);
    }
}
