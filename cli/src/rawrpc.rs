//! bitcoin-cli's habits: `rumor rpc METHOD ARGS…`, any other command passed
//! to the node as an RPC call (`rumor getblockhash 0`), and `rumor help
//! [COMMAND|METHOD]`.

use clap::CommandFactory;
use serde_json::{Value, json};

use crate::output::print_json;
use crate::{Cli, CliError};

/// One command-line argument as a JSON parameter: JSON where it parses as
/// JSON (`2`, `true`, `null`, `{"ids": […]}`, `["a"]`, `"quoted"`), else the
/// text as a string. A number is taken only if it reads back exactly, so
/// digit strings that a number would change (`007`, a 64-digit id) stay
/// strings.
pub fn parse_arg(text: &str) -> Value {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Number(n)) if n.to_string() != text.trim() => Value::String(text.to_owned()),
        Ok(v) => v,
        Err(_) => Value::String(text.to_owned()),
    }
}

/// Prints an RPC result as bitcoin-cli does: a string as it is, null as
/// nothing, anything else as pretty JSON (`--json` prints strings quoted).
fn print_result(json_out: bool, v: &Value) -> Result<(), CliError> {
    match v {
        Value::String(s) if !json_out => outln!("{s}"),
        Value::Null if !json_out => Ok(()),
        other => print_json(other),
    }
}

/// `rumor rpc METHOD ARGS…`.
pub(crate) async fn call(cli: &Cli, method: &str, args: &[String]) -> Result<(), CliError> {
    let params: Vec<Value> = args.iter().map(|a| parse_arg(a)).collect();
    let v: Value = cli.rpc()?.call(method, params).await?;
    print_result(cli.json, &v)
}

/// `rumor help [COMMAND|METHOD]`: a `rumor` command's help, or a node
/// method's usage. Without an argument: `rumor`'s help, then the node's
/// methods if it answers.
pub(crate) async fn help(cli: &Cli, topic: Option<&str>) -> Result<(), CliError> {
    let mut command = Cli::command();
    if let Some(topic) = topic {
        if let Some(sub) = command.find_subcommand_mut(topic) {
            return outln!("{}", sub.render_long_help());
        }
        let usage: Value = cli.rpc()?.call("help", vec![json!(topic)]).await?;
        return print_result(cli.json, &usage);
    }
    outln!("{}", command.render_long_help())?;
    let methods: Result<Vec<String>, CliError> = match cli.rpc() {
        Ok(rpc) => rpc.call("help", vec![]).await,
        Err(e) => Err(e),
    };
    match methods {
        Ok(names) => {
            outln!(
                "Node RPC methods (`rumor help METHOD` explains one, `rumor METHOD ARGS…` calls it):"
            )?;
            for chunk in names.chunks(4) {
                let row: Vec<String> = chunk.iter().map(|n| format!("{n:<20}")).collect();
                outln!("  {}", row.join("").trim_end())?;
            }
            Ok(())
        }
        Err(e) => outln!("(the node's RPC methods are listed when it answers: {e})"),
    }
}

/// A command `rumor` does not know: `help …`, or an RPC method.
pub(crate) async fn external(cli: &Cli, words: &[String]) -> Result<(), CliError> {
    let Some((first, rest)) = words.split_first() else {
        return Err(CliError::Other("no command given".into()));
    };
    if first == "help" {
        return help(cli, rest.first().map(String::as_str)).await;
    }
    call(cli, first, rest).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_are_json_where_they_parse_else_strings() {
        assert_eq!(parse_arg("2"), json!(2));
        assert_eq!(parse_arg("-1"), json!(-1));
        assert_eq!(parse_arg("true"), json!(true));
        assert_eq!(parse_arg("null"), Value::Null);
        assert_eq!(parse_arg(r#"{"ids":["ab"]}"#), json!({"ids": ["ab"]}));
        assert_eq!(parse_arg(r#"["a","b"]"#), json!(["a", "b"]));
        assert_eq!(parse_arg("\"quoted\""), json!("quoted"));
        assert_eq!(parse_arg("getblock"), json!("getblock"));
        let hash = "00000a3f".repeat(8);
        assert_eq!(parse_arg(&hash), json!(hash));
        let digits = "1234567890".repeat(6) + "1234";
        assert_eq!(parse_arg(&digits), json!(digits), "not a lossy number");
        assert_eq!(parse_arg("007"), json!("007"));
        assert_eq!(parse_arg("rumorreg1qqq"), json!("rumorreg1qqq"));
    }
}
