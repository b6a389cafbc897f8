@echo off
rem Starts the app in the background; its pid goes to process.pid and its output to logs\.
setlocal
cd /d "%~dp0"
call env.bat
if not exist logs mkdir logs
powershell -NoProfile -Command "$p = Start-Process -FilePath cmd.exe -ArgumentList '/c','run.bat' -WindowStyle Hidden -RedirectStandardOutput 'logs\app.log' -RedirectStandardError 'logs\app.err.log' -PassThru; Set-Content -Encoding ascii -Path process.pid -Value $p.Id"
if errorlevel 1 exit /b 1
echo started
