<#
.SYNOPSIS
    Run one bitrix-sync pass from Windows Task Scheduler; all arguments go to cli.py.

.DESCRIPTION
    Works in Windows PowerShell 5.1 and PowerShell 7. Task Scheduler action:

        Program:    powershell.exe            (or pwsh.exe)
        Arguments:  -NoProfile -ExecutionPolicy Bypass -File "C:\bitrix-sync\sync-cron.ps1"

    Use -File, not -Command: only -File hands the script's exit code to Task Scheduler.

    - Runs in the project folder (where this script really lives, symlinks
      resolved), so .env and mapping.toml are found whatever the start folder is.
    - Python: .venv or venv in the project folder if present, else `py -3`,
      `python`, `python3`.
    - Output (stdout + stderr) is appended to $env:SYNC_CRON_LOG (default
      bitrix-sync-cron.log in the project folder; a relative path is taken from
      the project folder) as UTF-8 between timestamped start / finish lines.
    - The exit code is cli.py's (127 if no Python was found; 4 if another sync,
      e.g. the service, was running and this one did not start).
    - The run is recorded in the run history as triggered by cron
      (see `python cli.py --status`).

    Avoid arguments that contain double quotes: Windows PowerShell 5.1 passes
    them to native programs mangled.
#>

# No param() block on purpose: every argument reaches cli.py unchanged through $args.
Set-StrictMode -Version 2.0
$ErrorActionPreference = 'Stop'
$cliArgs = @($args)

function Resolve-RealPath([string]$Path) {
    $item = Get-Item -LiteralPath $Path -Force
    $hops = 0
    while ($item.LinkType -eq 'SymbolicLink' -and $hops -lt 40) {
        # Target is string[] in 5.1 and string in 7; @(...)[0] reads both.
        $target = @($item.Target)[0]
        if (-not [System.IO.Path]::IsPathRooted($target)) {
            $target = Join-Path (Split-Path -Parent $item.FullName) $target
        }
        $item = Get-Item -LiteralPath $target -Force
        $hops++
    }
    return $item.FullName
}

$scriptPath = $PSCommandPath
if (-not $scriptPath) { $scriptPath = $MyInvocation.MyCommand.Path }
$projectDir = Split-Path -Parent (Resolve-RealPath $scriptPath)
$cliPath = Join-Path $projectDir 'cli.py'

$python = $null
$pythonArgs = @()
foreach ($relative in '.venv/Scripts/python.exe', 'venv/Scripts/python.exe',
                      '.venv/bin/python', 'venv/bin/python') {
    $candidate = Join-Path $projectDir $relative
    if (Test-Path -LiteralPath $candidate -PathType Leaf) { $python = $candidate; break }
}
if (-not $python) {
    if (Get-Command py -CommandType Application -ErrorAction SilentlyContinue) {
        $python = 'py'; $pythonArgs = @('-3')
    } elseif (Get-Command python -CommandType Application -ErrorAction SilentlyContinue) {
        $python = 'python'
    } elseif (Get-Command python3 -CommandType Application -ErrorAction SilentlyContinue) {
        $python = 'python3'
    }
}

$logFile = $env:SYNC_CRON_LOG
if ([string]::IsNullOrWhiteSpace($logFile)) { $logFile = 'bitrix-sync-cron.log' }
if (-not [System.IO.Path]::IsPathRooted($logFile)) { $logFile = Join-Path $projectDir $logFile }

# UTF-8 without BOM, the same bytes in 5.1 and 7 (Add-Content -Encoding UTF8 differs
# between them), so Cyrillic text survives and the log never gets a BOM mid-file.
$utf8 = New-Object System.Text.UTF8Encoding($false)
$echo = -not [Console]::IsOutputRedirected

function Get-Stamp { Get-Date -Format 'yyyy-MM-dd HH:mm:ss zzz' }

function Write-Log([string]$Line) {
    if ($script:logFile) {
        [System.IO.File]::AppendAllText($script:logFile, $Line + [Environment]::NewLine, $utf8)
    }
    if ($script:echo -or -not $script:logFile) { Write-Host $Line }
}

try {
    $logDir = Split-Path -Parent $logFile
    if (-not (Test-Path -LiteralPath $logDir)) {
        New-Item -ItemType Directory -Force -Path $logDir | Out-Null
    }
    [System.IO.File]::AppendAllText($logFile, '', $utf8)
} catch {
    # Better an unlogged run than none.
    Write-Warning "sync-cron.ps1: cannot write the log file ${logFile}; running without it"
    $logFile = $null
}

if (-not $python) {
    Write-Log ("[{0}] sync-cron.ps1: no Python found (looked for .venv, venv, py -3, python, python3)" -f (Get-Stamp))
    exit 127
}

$env:PYTHONIOENCODING = 'utf-8'
$env:PYTHONUTF8 = '1'
# PowerShell decodes a program's output with [Console]::OutputEncoding (the OEM code
# page, e.g. 866, by default); Python now writes UTF-8, so decode UTF-8 or Cyrillic breaks.
$savedEncoding = $null
try { $savedEncoding = [Console]::OutputEncoding; [Console]::OutputEncoding = $utf8 } catch { }

$shownArgs = ($cliArgs | ForEach-Object { if ("$_" -match '\s') { "'$_'" } else { "$_" } }) -join ' '
Write-Log ("[{0}] start: cli.py {1} (pid {2}, python {3})" -f (Get-Stamp), $shownArgs, $PID, $python)

$code = 1
Push-Location -LiteralPath $projectDir
# 5.1 turns every stderr line of a program into an error record; with 'Stop' the first
# warning cli.py prints would abort this script.
$ErrorActionPreference = 'Continue'
try {
    # --trigger cron: the run history tells these runs from manual ones.
    & $python @pythonArgs $cliPath '--trigger' 'cron' @cliArgs 2>&1 | ForEach-Object {
        if ($_ -is [System.Management.Automation.ErrorRecord]) {
            Write-Log $_.Exception.Message
        } else {
            Write-Log "$_"
        }
    }
    # Get-Variable: strict mode throws on reading a $LASTEXITCODE that was never set.
    $last = Get-Variable -Name LASTEXITCODE -ValueOnly -ErrorAction SilentlyContinue
    if ($null -ne $last) { $code = $last }
} catch {
    Write-Log ("sync-cron.ps1: could not run {0}: {1}" -f $python, $_.Exception.Message)
    $code = 127
} finally {
    $ErrorActionPreference = 'Stop'
    Pop-Location
    if ($null -ne $savedEncoding) { try { [Console]::OutputEncoding = $savedEncoding } catch { } }
}

Write-Log ("[{0}] finish: exit code {1}" -f (Get-Stamp), $code)
exit $code
