@echo off
rem Exit 0 while the app runs, 3 when it does not.
setlocal
cd /d "%~dp0"
if not exist process.pid (echo not running & exit /b 3)
set /p PID=<process.pid
tasklist /FI "PID eq %PID%" 2>nul | find "%PID%" >nul
if errorlevel 1 (echo not running & exit /b 3)
echo running (pid %PID%)
exit /b 0
