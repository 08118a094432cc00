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
    - The exit code is cli.py's (127 if no usable Python was found: none at
      all, or one older than 3.11; 4 if another sync, e.g. the service, was
      running and this one did not start; 130 after Ctrl+C). Task Scheduler
      shows them in hex: 0x7F = 127, 0x82 = 130.
    - Python runs as a process of its own, not in a PowerShell pipeline: Ctrl+C
      reaches it and it stops cleanly (the directory in progress is rolled
      back), instead of PowerShell killing it mid-directory. Its output is
      copied to the log (and the console) when it finishes.
    - A log file that another process holds (e.g. open in an editor that locks
      it) is retried briefly, then reported as such; the run goes on without it.
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

# HRESULT of ERROR_SHARING_VIOLATION (32): another process has the file open.
$sharingViolation = -2147024864

function Add-LogText([string]$Text) {
    # A lock held by another process is often brief (a copy, a virus scan): a few tries.
    for ($try = 1; ; $try++) {
        try {
            [System.IO.File]::AppendAllText($script:logFile, $Text, $utf8)
            return
        } catch [System.IO.IOException] {
            if ($try -ge 5) { throw }
            Start-Sleep -Milliseconds 200
        }
    }
}

function Get-LogProblem($ErrorRecord) {
    $exception = $ErrorRecord.Exception
    while ($exception.InnerException) { $exception = $exception.InnerException }
    if ($exception.HResult -eq $script:sharingViolation) {
        return "it is in use by another process ($($exception.Message))"
    }
    return $exception.Message
}

function Write-Log([string]$Line) {
    if ($script:logFile) {
        try {
            Add-LogText ($Line + [Environment]::NewLine)
        } catch {
            # Better an unlogged run than none; said once, then the console only.
            # -f binds tighter than +: the pieces are joined first.
            $text = "sync-cron.ps1: cannot write the log file {0}: {1}; the rest of this " +
                    "run is not logged"
            Write-Warning ($text -f $script:logFile, (Get-LogProblem $_))
            $script:logFile = $null
        }
    }
    if ($script:echo -or -not $script:logFile) { Write-Host $Line }
}

try {
    $logDir = Split-Path -Parent $logFile
    if (-not (Test-Path -LiteralPath $logDir)) {
        New-Item -ItemType Directory -Force -Path $logDir | Out-Null
    }
    Add-LogText ''
} catch {
    # Better an unlogged run than none.
    Write-Warning ("sync-cron.ps1: cannot write the log file {0}: {1}; running without it" -f
                   $logFile, (Get-LogProblem $_))
    $logFile = $null
}

if (-not $python) {
    Write-Log ("[{0}] sync-cron.ps1: no Python found (looked for .venv, venv, py -3, python, python3)" -f (Get-Stamp))
    exit 127
}

$env:PYTHONIOENCODING = 'utf-8'
$env:PYTHONUTF8 = '1'

# The Python found must be 3.11 or newer. No quotes inside the -c text: Windows
# PowerShell 5.1 passes embedded double quotes to native programs mangled.
$version = 0
$ErrorActionPreference = 'Continue'
try {
    $answer = & $python @pythonArgs -c 'import sys; print(sys.version_info[0] * 100 + sys.version_info[1])' 2>$null
    $version = [int](@($answer)[-1])
} catch {
    $version = 0
} finally {
    $ErrorActionPreference = 'Stop'
}
if ($version -lt 311) {
    if ($version -gt 0) {
        $found = 'Python {0}.{1}' -f [math]::Floor($version / 100), ($version % 100)
    } else {
        $found = 'not a working Python'
    }
    $text = "[{0}] sync-cron.ps1: {1} is {2}; bitrix-sync needs Python 3.11 or newer. " +
            "Install it (python.org) and create the project's .venv with it: " +
            "py -3.11 -m venv .venv"
    Write-Log ($text -f (Get-Stamp), $python, $found)
    exit 127
}

function ConvertTo-ArgumentString([string[]]$Arguments) {
    # Quoted the way CommandLineToArgvW splits them again (Start-Process only joins).
    $quoted = foreach ($argument in $Arguments) {
        if ($argument -ne '' -and $argument -notmatch '[\s"]') { $argument; continue }
        $escaped = $argument -replace '(\\*)"', '$1$1\"' -replace '(\\+)$', '$1$1'
        '"' + $escaped + '"'
    }
    return ($quoted -join ' ')
}

$shownArgs = ($cliArgs | ForEach-Object { if ("$_" -match '\s') { "'$_'" } else { "$_" } }) -join ' '
Write-Log ("[{0}] start: cli.py {1} (pid {2}, python {3})" -f (Get-Stamp), $shownArgs, $PID, $python)

# --trigger cron: the run history tells these runs from manual ones.
$arguments = ConvertTo-ArgumentString (@($pythonArgs) + @($cliPath, '--trigger', 'cron') + $cliArgs)
$outFile = [System.IO.Path]::GetTempFileName()
$errFile = [System.IO.Path]::GetTempFileName()
$code = 127
$process = $null
try {
    # A process of its own, not a pipeline stage: Ctrl+C reaches python, which stops
    # cleanly; PowerShell stops only this script, and the finally block waits for python.
    $process = Start-Process -FilePath $python -ArgumentList $arguments -NoNewWindow -PassThru `
        -WorkingDirectory $projectDir -RedirectStandardOutput $outFile -RedirectStandardError $errFile
    $null = $process.Handle  # without it ExitCode stays empty in Windows PowerShell 5.1
    $process.WaitForExit()
} catch {
    Write-Log ("sync-cron.ps1: could not start {0}: {1}" -f $python, $_.Exception.Message)
    $process = $null
} finally {
    if ($null -ne $process) {
        if (-not $process.HasExited) { $process.WaitForExit() }
        $code = $process.ExitCode
        if ($null -eq $code) { $code = 1 }
        # Warnings and errors first, then the result table, as a terminal would show them.
        foreach ($file in $errFile, $outFile) {
            foreach ($line in [System.IO.File]::ReadAllLines($file, $utf8)) { Write-Log $line }
        }
    }
    Remove-Item -LiteralPath $outFile, $errFile -Force -ErrorAction SilentlyContinue
    Write-Log ("[{0}] finish: exit code {1}" -f (Get-Stamp), $code)
}
exit $code
