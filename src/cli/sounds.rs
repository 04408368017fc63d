//! `harmonic sounds list|save|get|rename|delete`: the user's library of
//! saved short sounds on the server.

use std::path::PathBuf;

use serde_json::json;

use super::client::{connect, finish, log_in, runtime, ConnectArgs, Failure};
use crate::protocol::SoundInfo;

/// Arguments of `harmonic sounds`.
#[derive(Debug, clap::Args)]
pub struct SoundsArgs {
    /// Set from the global options (before or after the subcommand).
    #[arg(skip)]
    pub(crate) connect: ConnectArgs,
    /// What to do with the library.
    #[command(subcommand)]
    command: SoundsCommand,
}

/// The `sounds` subcommands.
#[derive(Debug, clap::Subcommand)]
enum SoundsCommand {
    /// List the saved sounds.
    List,
    /// Save an audio file under NAME (at most 60 s; WAV, AIFF, FLAC, MP3, Ogg Vorbis, M4A).
    Save {
        /// The name to save it under (1–64 characters, no `/` or `\`).
        name: String,
        /// The audio file.
        file: PathBuf,
        /// Replace a sound of the same name.
        #[arg(long)]
        overwrite: bool,
    },
    /// Download a saved sound.
    Get {
        /// The sound's name.
        name: String,
        /// Where to write it.
        #[arg(short, long, value_name = "FILE")]
        output: PathBuf,
    },
    /// Rename a saved sound.
    Rename {
        /// Its current name.
        name: String,
        /// Its new name.
        new_name: String,
    },
    /// Delete a saved sound.
    Delete {
        /// The sound's name.
        name: String,
    },
}

/// One line of `sounds list`.
fn describe(sound: &SoundInfo) -> String {
    format!(
        "{:<24} {:>8.3} s  {:>6} Hz  {} ch  {:>9} bytes  {}\n",
        sound.name,
        sound.duration_ms as f64 / 1000.0,
        sound.sample_rate,
        sound.channels,
        sound.size,
        sound.created_at
    )
}

/// Runs `harmonic sounds ...`.
pub fn run(args: SoundsArgs) -> Result<(), String> {
    let connect_args = args.connect;
    let outcome = runtime()?.block_on(async {
        let client = connect(&connect_args).await?;
        log_in(&client, &connect_args, true).await?;
        let output = match args.command {
            SoundsCommand::List => {
                let sounds = client.sound_list().await?;
                let mut text = String::new();
                if sounds.is_empty() {
                    text.push_str("no saved sounds\n");
                }
                for sound in &sounds {
                    text.push_str(&describe(sound));
                }
                (text, json!({"sounds": sounds}))
            }
            SoundsCommand::Save {
                name,
                file,
                overwrite,
            } => {
                if !file.is_file() {
                    return Err(Failure::from(format!("{} is not a file", file.display())));
                }
                let sound = client
                    .sound_save(&name, file.as_path(), overwrite)
                    .await
                    .map_err(|err| {
                        // The server's message says what is wrong; this
                        // says which file.
                        let mut failure = Failure::from(err);
                        failure.message = format!("{}: {}", file.display(), failure.message);
                        failure
                    })?;
                (
                    format!("saved {}", describe(&sound)),
                    json!({"sound": sound}),
                )
            }
            SoundsCommand::Get { name, output } => {
                let mut bytes = Vec::new();
                let sound = client.sound_get(&name, &mut bytes).await?;
                std::fs::write(&output, &bytes)
                    .map_err(|err| format!("cannot write {}: {err}", output.display()))?;
                (
                    format!(
                        "wrote {} ({} bytes) to {}\n",
                        sound.name,
                        sound.size,
                        output.display()
                    ),
                    json!({"sound": sound, "path": output}),
                )
            }
            SoundsCommand::Rename { name, new_name } => {
                let sound = client.sound_rename(&name, &new_name).await?;
                (
                    format!("renamed {name} to {}\n", sound.name),
                    json!({"sound": sound}),
                )
            }
            SoundsCommand::Delete { name } => {
                client.sound_delete(&name).await?;
                (format!("deleted {name}\n"), json!({"deleted": name}))
            }
        };
        client.close().await;
        Ok::<_, Failure>(output)
    });
    finish(connect_args.json, outcome)
}
