; Inno Setup script of the ClinicDesk desk for Windows (per-user install, no administrator rights).
;
;   iscc /DAppVersion=0.1.0 /DBundleDir=..\..\dist\ClinicDesk /DIconFile=..\..\build\pyinstaller\generated\icons\clinicdesk.ico packaging\windows\clinicdesk.iss
;
; Installs the PyInstaller one-folder bundle (packaging/desktop.spec) to
; %LOCALAPPDATA%\Programs\ClinicDesk, adds a Start-menu entry (and an optional
; desktop icon), and an uninstaller. The desk's data folder
; (%LOCALAPPDATA%\ClinicDesk: the encrypted database, its keyfile, backups, logs)
; is NOT removed on uninstall unless the user answers Yes to the uninstaller's last
; question (default No): it may hold changes not yet sent to the server.

#ifndef AppVersion
  #define AppVersion "0.0.0"
#endif
#ifndef BundleDir
  #define BundleDir "..\..\dist\ClinicDesk"
#endif
#ifndef IconFile
  #define IconFile "..\..\build\pyinstaller\generated\icons\clinicdesk.ico"
#endif

[Setup]
AppId={{6C0F6E62-2C4B-4C55-9E33-0D1B4C1A7D21}
AppName=ClinicDesk
AppVersion={#AppVersion}
AppPublisher=ClinicDesk
VersionInfoVersion={#AppVersion}
DefaultDirName={localappdata}\Programs\ClinicDesk
DefaultGroupName=ClinicDesk
DisableProgramGroupPage=yes
PrivilegesRequired=lowest
PrivilegesRequiredOverridesAllowed=dialog
OutputBaseFilename=ClinicDesk-{#AppVersion}-setup
OutputDir=..\..\dist
SetupIconFile={#IconFile}
UninstallDisplayIcon={app}\ClinicDesk.exe
Compression=lzma2/max
SolidCompression=yes
WizardStyle=modern
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
MinVersion=10.0.17763
; A running desk holds its files: ask to close it instead of failing half-way.
CloseApplications=yes
RestartApplications=no

[Languages]
Name: "en"; MessagesFile: "compiler:Default.isl"
Name: "es"; MessagesFile: "compiler:Languages\Spanish.isl"

[CustomMessages]
en.DeleteData=Also delete this computer's ClinicDesk data (the encrypted database, its backups and logs). Changes not yet sent to the server are lost.
es.DeleteData=Borrar también los datos de ClinicDesk de este equipo (la base de datos cifrada, sus copias y registros). Se pierden los cambios aún no enviados al servidor.

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked

[Files]
Source: "{#BundleDir}\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{group}\ClinicDesk"; Filename: "{app}\ClinicDesk.exe"
Name: "{group}\{cm:UninstallProgram,ClinicDesk}"; Filename: "{uninstallexe}"
Name: "{userdesktop}\ClinicDesk"; Filename: "{app}\ClinicDesk.exe"; Tasks: desktopicon

[Run]
Filename: "{app}\ClinicDesk.exe"; Description: "{cm:LaunchProgram,ClinicDesk}"; Flags: nowait postinstall skipifsilent

[Code]
{ After the program files are gone, ask (default: No) whether to delete the data folder too. }
procedure CurUninstallStepChanged(CurUninstallStep: TUninstallStep);
var
  DataDir: String;
begin
  if CurUninstallStep = usPostUninstall then
  begin
    DataDir := ExpandConstant('{localappdata}\ClinicDesk');
    if DirExists(DataDir) and (not UninstallSilent()) then
      if MsgBox(CustomMessage('DeleteData'), mbConfirmation, MB_YESNO or MB_DEFBUTTON2) = IDYES then
        DelTree(DataDir, True, True, True);
  end;
end;
