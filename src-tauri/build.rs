fn main() {
    // tauri.conf.json sits at the repository root and its paths are relative to it, but
    // tauri-build looks for the Windows resource icon from this package's folder.
    let windows =
        tauri_build::WindowsAttributes::new().window_icon_path("../assets/icons/icon.ico");
    if let Err(e) =
        tauri_build::try_build(tauri_build::Attributes::new().windows_attributes(windows))
    {
        panic!("tauri-build: {e:#}");
    }
}
