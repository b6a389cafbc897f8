@echo off
rem Stops the app, then starts it again.
cd /d "%~dp0"
call stop.bat
call kill.bat
call start.bat
